"""Bytes per store-day in PostgreSQL, without and with retention (hub/db/retention.py).

    python -m bench.bench_store_day [--seats 100 --changes-per-seat 30 --channels 16] [--pg URL]

One generated day of one store's real message mix, through the hub's writer: a health message
every 10 s (one entry per channel, as edge_agent/uplink.py sends it), and per seat change one
``Event`` with its evidence and one one-seat ``Delta`` (30 changes per seat and day by default: an
assumption, about a seat taken and left 7 times a day with its away/abandoned steps). Each
batch is written with ``now`` = the time of its last message, so ``received_at`` is that of a
real day. Sizes are ``pg_total_relation_size`` over all tables (indexes and TOAST included)
after VACUUM FULL, less the same after the birth alone (the store, its seats and state rows do
not grow per day):
- without retention: what every day adds, for ever;
- with retention (defaults, run 8 days later): what stays of that day for raw_events_months
  (its seat events); the dedupe keys of seat messages live for dedupe_days, health keys for
  health_keys_minutes only (a bounded window, also reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.common import Row, parser, report
from hub.db.migrate import upgrade_async
from hub.db.retention import run_retention
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from hub.settings import IngestSettings, RetentionSettings
from protocol import (
    SEAT_STATES,
    Birth,
    ChannelHealth,
    Delta,
    Event,
    Evidence,
    Health,
    SeatDef,
    SeatSnapshot,
    TopicSpace,
    encode,
)

TOPICS = TopicSpace("bench/seat/v1")
EVIDENCE = Evidence(person_overlap=0.62, person_conf=0.81, item_count=2, item_classes=["backpack", "laptop"],
                    change_score=0.34, person_held=False)
T0 = 1_800_000_000.0
DAY = 86400.0


def day(seats: int, changes_per_seat: int, channels: int, seed: int = 7) -> tuple[RawMessage, list[RawMessage]]:
    rnd = random.Random(seed)
    base = {"store_id": "store-a", "edge_id": "edge-1", "boot_id": "boot-1"}
    defs = [SeatDef(seat_id=f"s{k}", channel=k % channels, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)])
            for k in range(seats)]
    birth = Birth(**base, seq=1, ts=T0, config_version=1, seats=defs,
                  states=[SeatSnapshot(d.seat_id, "empty", T0) for d in defs])
    timed: list[tuple[float, str, object]] = []
    for k in range(int(DAY // 10)):
        timed.append((T0 + 10 * k + 5, "health", None))
    for _ in range(seats * changes_per_seat):
        timed.append((T0 + rnd.random() * DAY, "change", f"s{rnd.randrange(seats)}"))
    timed.sort(key=lambda x: x[0])
    state = {d.seat_id: "empty" for d in defs}
    seq, out = 1, []
    for t, kind, sid in timed:
        if kind == "health":
            seq += 1
            h = Health(**base, seq=seq, ts=t, uptime_s=t - T0, outbox_depth=0, channels=[
                ChannelHealth(channel=c, online=True, fps=4.9, last_frame_age_s=0.2, latency_ms=41.0, reconnects=0)
                for c in range(channels)])
            out.append(RawMessage(TOPICS.topic("store-a", "edge-1", "health"), encode(h), t))
            continue
        to = rnd.choice([s for s in SEAT_STATES[:4] if s != state[sid]])
        seq += 1
        ev = Event(**base, seq=seq, ts=t, seat_id=sid, from_state=state[sid], to_state=to, at=t, evidence=EVIDENCE)
        seq += 1
        d = Delta(**base, seq=seq, ts=t, changes=[SeatSnapshot(sid, to, t)])
        out += [RawMessage(TOPICS.topic("store-a", "edge-1", "event"), encode(ev), t),
                RawMessage(TOPICS.topic("store-a", "edge-1", "delta"), encode(d), t)]
        state[sid] = to
    return RawMessage(TOPICS.topic("store-a", "edge-1", "birth"), encode(birth), T0), out


async def sizes(engine) -> dict[str, int]:
    async with engine.connect() as c:
        c = await c.execution_options(isolation_level="AUTOCOMMIT")
        await c.execute(text("VACUUM FULL ANALYZE"))
        rows = await c.execute(text(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"))
        return {name: int(size) for name, size in rows.all()}


async def run(url: str, seats: int, changes_per_seat: int, channels: int, batch: int) -> list[Row]:
    engine = make_engine(url)
    await upgrade_async(engine)
    sm = make_sessionmaker(engine)
    w = IngestWriter(sm, TOPICS)
    birth, msgs = day(seats, changes_per_seat, channels)
    try:
        await w.write([birth], now=T0)
        base = await sizes(engine)
        for i in range(0, len(msgs), batch):
            chunk = msgs[i:i + batch]
            await w.write(chunk, now=chunk[-1].received_at)
        full = await sizes(engine)
        grown = {k: full[k] - base.get(k, 0) for k in full}
        rep = await run_retention(sm, RetentionSettings(), now=T0 + DAY + 600)  # health keys gone, 10 min on
        window = {k: v - base.get(k, 0) for k, v in (await sizes(engine)).items()}
        rep2 = await run_retention(sm, RetentionSettings(), now=T0 + 9 * DAY)  # seat dedupe keys gone too
        kept = {k: v - base.get(k, 0) for k, v in (await sizes(engine)).items()}
    finally:
        await engine.dispose()
    n_health = int(DAY // 10)
    n_changes = seats * changes_per_seat
    mb = 1e6
    before, during, after = sum(grown.values()), sum(window.values()), sum(kept.values())
    how = (f"1 day, {seats} seats, {n_changes} changes (Event+Delta), {n_health} health msgs x {channels} "
           f"channels; VACUUM FULL sizes")
    top = ", ".join(f"{k} {v / mb:.2f}" for k, v in sorted(grown.items(), key=lambda x: -x[1])[:3] if v > 0)
    return [
        Row("storage", "bytes per store-day without retention (every day, for ever)", before / mb, "MB", "",
            f"{how}; largest (MB): {top}"),
        Row("storage", "per store-day with retention: kept for dedupe_days (7 d), health keys gone", during / mb,
            "MB", "", f"{rep.deleted['health_keys']} health keys deleted"),
        Row("storage", "per store-day with retention: kept for raw_events_months (13 months)", after / mb, "MB",
            "", f"{rep2.deleted['dedupe_keys']} seat dedupe keys deleted; seat events stay"),
        Row("storage", "500 stores, a year of raw events (steady state with retention)", after * 365 * 500 / 1e9, "GB",
            "", f"without retention: {before * 365 * 500 / 1e9:.0f} GB a year, growing; plus 7 days of dedupe keys"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seats", type=int, default=100)
    ap.add_argument("--changes-per-seat", type=int, default=30)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--batch", type=int, default=IngestSettings().batch_max)
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database)")
    args = ap.parse_args()
    if args.quick:
        args.seats, args.changes_per_seat = 10, 3
    from tests.support.services import postgres_database

    with contextlib.ExitStack() as db:
        url = args.pg or db.enter_context(postgres_database())
        rows = asyncio.run(run(url, args.seats, args.changes_per_seat, args.channels, args.batch))
    report(rows, args.json)


if __name__ == "__main__":
    main()
