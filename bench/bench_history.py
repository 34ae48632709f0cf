"""History and the HQ overview from the hourly rollups (issue 21): latency, CPU and bytes.

    python -m bench.bench_history [--seats 100 --days 30 --stores 500 --overview-seats 20] [--pg URL]

Real parts: a fresh PostgreSQL database, the hub app (``hub.app.create_app``, its HTTP handlers,
guard and templates, in this process through Litestar's test client: no socket), the ingest writer
(``IngestWriter``) for every event, so the rollups are the ones the writer maintains as it stores
events. The history: ``--days`` of one ``--seats`` store, about 16 transitions per seat and day
(Event messages, capture-time order, batches of 500), and then a day that an edge replays late
(its events stored after the following days: the rollups of that span are recomputed). The overview:
``--stores`` stores of ``--overview-seats`` seats with yesterday's and today's events, all stores'
messages mixed in each batch; the page ``/`` shows today so far (few hours at night), so the
overview's rollup read (``occupancy_today``) is also timed for yesterday at 23:59 (24 hours each).

Figures: the 30-day history page (HTML) and its JSON API (what the page draws), the 30-day hourly
stats API (every seat-hour, in the worker process) and the HQ overview ``/``: median wall time of a
few requests, the hub process's CPU time per request beside it (``time.process_time``: this
process is the hub), response bytes. And the "before": the same history numbers computed from the
raw events (``load_timelines`` + ``compute_store_stats``, what the page ran before the rollups).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from datetime import datetime, timedelta

from bench.common import Row, parser, report
from hub.app import create_app
from hub.db.migrate import upgrade_async
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from hub.settings import DatabaseSettings, HubSettings
from hub.stats.compute import compute_store_stats
from hub.stats.timelines import load_timelines
from hub.web.common import SEOUL
from hub.web.history import history_view
from hub.web.pages import occupancy_today
from protocol import Birth, Event, Evidence, SeatDef, TopicSpace, encode

TOPICS = TopicSpace("seat/v1")  # the hub's default prefix: the app's writer is not used here
EVIDENCE = Evidence(person_overlap=0.62, person_conf=0.81, item_count=1, item_classes=["backpack"])
STATES = ("empty", "occupied", "away", "abandoned")


def _birth(store: str, seats: int, t: float) -> RawMessage:
    defs = [SeatDef(seat_id=f"s{k}", channel=k % 16, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)]) for k in range(seats)]
    b = Birth(store_id=store, edge_id="e1", boot_id="b1", seq=1, ts=t, config_version=1, seats=defs, states=[])
    return RawMessage(TOPICS.topic(store, "e1", "birth"), encode(b), t)


def _events(store: str, seats: int, t0: float, t1: float, per_seat_day: float, rnd: random.Random,
            seq0: int = 1) -> list[tuple[float, RawMessage]]:
    """Transitions of every seat in ``[t0, t1)``, each one Event message (sorted by capture time)."""
    out = []
    seq = seq0
    for k in range(seats):
        t, state = t0, "empty"
        while True:
            t += rnd.expovariate(per_seat_day / 86400.0)
            if t >= t1:
                break
            to = rnd.choice([s for s in STATES if s != state])
            seq += 1
            ev = Event(store_id=store, edge_id="e1", boot_id="b1", seq=seq, ts=t, seat_id=f"s{k}", from_state=state,
                       to_state=to, at=t, evidence=EVIDENCE, historical=True)
            out.append((t, RawMessage(TOPICS.topic(store, "e1", "event"), encode(ev), t)))
            state = to
    out.sort(key=lambda x: x[0])
    return out


async def _write_all(w: IngestWriter, msgs: list[RawMessage], now: float, batch: int = 500) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(msgs), batch):
        await w.write(msgs[i:i + batch], now=now)
    return time.perf_counter() - t0


async def _timed(client, path: str, params: dict | None = None, n: int = 5) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``n`` GETs (after one warm-up), and the body's bytes."""
    r = await client.get(path, params=params)
    r.raise_for_status()
    walls, cpus = [], []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        r = await client.get(path, params=params)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        r.raise_for_status()
    return statistics.median(walls), statistics.median(cpus), len(r.content)


async def run(url: str, seats: int, days: int, stores: int, overview_seats: int) -> list[Row]:
    from litestar.testing import AsyncTestClient

    from tests.support.hub_auth import acreate_user, alogin

    engine = make_engine(url)
    await upgrade_async(engine)
    sm = make_sessionmaker(engine)
    w = IngestWriter(sm, TOPICS)
    rnd = random.Random(21)
    now = time.time()
    today = datetime.fromtimestamp(now, SEOUL).date()
    d0 = today - timedelta(days=days - 1)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=SEOUL).timestamp()
    midnight = datetime(today.year, today.month, today.day, tzinfo=SEOUL).timestamp()
    # the history store: every day but one in order, then the missing day replayed late
    await w.write([_birth("hist", seats, start - 60)], now=now)
    evs = _events("hist", seats, start, now - 60, 16, rnd)
    late_day = (start + 86400 * (days // 2), start + 86400 * (days // 2 + 1))
    on_time = [m for t, m in evs if not late_day[0] <= t < late_day[1]]
    late = [m for t, m in evs if late_day[0] <= t < late_day[1]]
    ingest_s = await _write_all(w, on_time, now)
    late_s = await _write_all(w, late, now)
    # the same events into another store with the rollup step switched off: what the rollups cost
    import hub.ingest.writer as writer_module

    async def no_rollups(session, events) -> int:
        return 0

    real_roll, writer_module.roll_events = writer_module.roll_events, no_rollups
    try:
        await w.write([_birth("bare", seats, start - 60)], now=now)
        bare = [m for t, m in _events("bare", seats, start, now - 60, 16, random.Random(21))
                if not late_day[0] <= t < late_day[1]]  # the same times and states as on_time
        bare_s = await _write_all(w, bare, now)
    finally:
        writer_module.roll_events = real_roll
    # the overview's stores: today since midnight, all stores mixed in each batch
    births = [_birth(f"o{i:03d}", overview_seats, midnight - 86400 - 60) for i in range(stores)]
    for i in range(0, len(births), 100):
        await w.write(births[i:i + 100], now=now)
    mixed = []
    for i in range(stores):
        mixed += _events(f"o{i:03d}", overview_seats, midnight - 86400, now - 60, 16, rnd)
    mixed.sort(key=lambda x: x[0])
    overview_ingest_s = await _write_all(w, [m for _, m in mixed], now)
    # before: the page's numbers from the raw events, as it computed them until now (in its loop)
    c0, t0 = time.process_time(), time.perf_counter()
    async with sm() as db:
        loaded = await load_timelines(db, "hist", start, now)
    raw = compute_store_stats(loaded.timelines, start, now, "hour", SEOUL.key)
    history_view(raw, [d0 + timedelta(days=i) for i in range(days)], {})
    raw_wall, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
    # the overview's read at the end of a full day: 24 store-hours of every store
    ids = [f"o{i:03d}" for i in range(stores)]
    walls, cpus = [], []
    for _ in range(5):
        c0, t0 = time.process_time(), time.perf_counter()
        async with sm() as db:
            chart = await occupancy_today(db, ids, midnight - 60, SEOUL)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert len(chart["series"]) == stores
    await engine.dispose()

    app = create_app(HubSettings(database=DatabaseSettings(url=url)), start_mqtt=False)
    await acreate_user(url, "bench", "admin")
    rng = {"from": d0.isoformat(), "to": today.isoformat()}
    async with AsyncTestClient(app) as client:
        await alogin(client, "bench")
        page = await _timed(client, "/stores/hist/history", rng)
        api = await _timed(client, "/api/v1/stores/hist/history", rng)
        one = await _timed(client, "/api/v1/stores/hist/history", {**rng, "seat": "s1"})
        stats = await _timed(client, "/api/v1/stores/hist/stats",
                             {"from": d0.isoformat() + "T00:00:00", "bucket": "hour"}, n=3)
        overview = await _timed(client, "/", n=5)
    n_ev = len(on_time) + len(late)
    how = f"{days} days, {seats} seats, {n_ev:,} events through the writer; median of 5 after a warm-up"
    ms, kb = 1e3, 1e3
    return [
        Row("history", f"{days}-day store history page (HTML), {seats} seats", page[0] * ms, "ms", "< 300",
            f"{how}; hub CPU {page[1] * ms:.0f} ms/request"),
        Row("history", f"{days}-day store history page, bytes", page[2] / kb, "KB", "< 500", "HTML with the charts' JSON"),
        Row("history", f"{days}-day history API (JSON: store series, heatmap, per-seat rows)", api[0] * ms, "ms",
            "< 300", f"hub CPU {api[1] * ms:.0f} ms/request; {api[2] / kb:.0f} KB"),
        Row("history", f"{days}-day history API, bytes", api[2] / kb, "KB", "< 500", "what the page draws"),
        Row("history", f"{days}-day history API, one seat", one[0] * ms, "ms", "",
            f"hub CPU {one[1] * ms:.0f} ms; {one[2] / kb:.0f} KB"),
        Row("history", f"before: the same numbers from raw events ({days} days, {seats} seats)", raw_wall * ms, "ms",
            "", f"load_timelines + compute_store_stats, CPU {raw_cpu * ms:.0f} ms (in the event loop until now)"),
        Row("history", f"{days}-day hourly stats API, every seat-hour (worker process)", stats[0] * ms, "ms", "",
            f"{stats[2] / 1e6:.1f} MB JSON; hub CPU {stats[1] * ms:.0f} ms/request (the worker's not counted)"),
        Row("history", f"HQ overview / with {stores} stores (today from store-hour rollups)", overview[0] * ms, "ms",
            "< 1000", f"{stores} stores x {overview_seats} seats, today's events through the writer; hub CPU "
            f"{overview[1] * ms:.0f} ms/request; {overview[2] / kb:.0f} KB"),
        Row("history", f"overview's read for {stores} stores at 23:59 (24 store-hours each)",
            statistics.median(walls) * ms, "ms", "< 1000",
            f"occupancy_today (two queries over store_hours); CPU {statistics.median(cpus) * ms:.0f} ms"),
        Row("history", "writer with rollups: events stored per second (one store, in order)",
            len(on_time) / ingest_s, "events/s", "", f"{len(on_time):,} Event messages, batches of 500"),
        Row("history", "writer without rollups (the same events, rollup step off)",
            len(on_time) / bare_s, "events/s", "", "what the rollups cost the writer, same run"),
        Row("history", "writer with rollups: a day replayed late (recomputes that day's span)",
            len(late) / late_s, "events/s", "", f"{len(late):,} events, {late_s:.1f} s"),
        Row("history", f"writer with rollups: {stores} stores mixed in each batch", len(mixed) / overview_ingest_s,
            "events/s", "", f"{len(mixed):,} events"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seats", type=int, default=100)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--stores", type=int, default=500)
    ap.add_argument("--overview-seats", type=int, default=10)
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database)")
    args = ap.parse_args()
    if args.quick:
        args.seats, args.days, args.stores, args.overview_seats = 10, 3, 10, 3
    from tests.support.services import postgres_database

    with contextlib.ExitStack() as db:
        url = args.pg or db.enter_context(postgres_database())
        rows = asyncio.run(run(url, args.seats, args.days, args.stores, args.overview_seats))
    report(rows, args.json)


if __name__ == "__main__":
    main()
