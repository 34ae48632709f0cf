"""Property: the hourly rollups the ingest writer maintains (hub/stats/rollup_db.py) equal the raw
computation (hub.stats.compute on each seat's whole event history) for every seat-hour and store-hour,
whatever the order the events arrive in: late and out of order (an edge back after a day), replayed
(the same message again), ties in capture time, spans crossing the store's midnight, random batches.
And the statistics built from the rollups (what the stats API answers) equal compute_store_stats
for windows crossing midnight, hour and day buckets, the last hour cut at the window's end.
Runs the real writer on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from hub.db.migrate import upgrade_async
from hub.db.models import Seat, SeatEvent, SeatHourRow, StoreHourRow
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from hub.stats.compute import SeatTimeline, compute_store_stats
from hub.stats.rollup import store_stats_from_hours
from hub.stats.rollup_db import seat_hour_rows, seat_totals, store_hours
from protocol import Birth, Event, Evidence, SeatDef, TopicSpace, encode

TOPICS = TopicSpace("seat/v1")
TZ = "Asia/Seoul"
ZONE = ZoneInfo(TZ)
HOUR = 3600.0
MIDNIGHT = datetime(2026, 11, 20, tzinfo=ZONE).timestamp()  # a Seoul midnight (15:00 UTC)
NOW = MIDNIGHT + 40 * HOUR  # the hub clock: every event is in its past
SEATS = ["A0", "A1", "A2"]
LAYOUT = [SeatDef(seat_id=s, channel=0, polygon=[(0, 0), (1, 0), (1, 1)]) for s in SEATS]
STATES = ["empty", "occupied", "away", "abandoned", "unknown"]

# capture times over ~2 days around midnight; a small grid so that ties and hour edges happen
times = st.one_of(st.integers(-30 * 4, 30 * 4).map(lambda k: MIDNIGHT + k * 900.0),
                  st.floats(-30 * HOUR, 30 * HOUR).map(lambda d: round(MIDNIGHT + d, 3)))
event = st.tuples(st.sampled_from(SEATS), st.sampled_from(STATES), times)
# a live evening: three hours around midnight, so that batches keep landing in the store's current hour
live_times = st.one_of(st.integers(-12, 24).map(lambda k: MIDNIGHT + k * 300.0),
                       st.floats(-HOUR, 2 * HOUR).map(lambda d: round(MIDNIGHT + d, 3)))
live_event = st.tuples(st.sampled_from(SEATS), st.sampled_from(STATES), live_times)


@st.composite
def deliveries(draw):
    """Events with their seq numbers, delivered in a random order, some twice, in random batches."""
    # shuffled over two days (late and out of order: the recompute path), or a live evening in time
    # order with a few stragglers moved to the end (the append path, hub.stats.rollup.append_seat)
    shuffled = draw(st.booleans())
    evs = draw(st.lists(event if shuffled else live_event, min_size=1, max_size=40))
    msgs = [(i + 2, e) for i, e in enumerate(evs)]  # seq 1 is the birth
    if shuffled:
        order = draw(st.permutations(msgs))
    else:
        order = sorted(msgs, key=lambda m: m[1][2])
        late = draw(st.lists(st.integers(0, len(order) - 1), max_size=2, unique=True))
        order = [m for i, m in enumerate(order) if i not in late] + [order[i] for i in late]
    replays = draw(st.lists(st.sampled_from(msgs), max_size=6))
    stream = list(order) + replays
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6, unique=True)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)]) if stream[a:b]]


def _raw(store: str, seq: int, e) -> RawMessage:
    seat, to, at = e
    m = Event(store_id=store, edge_id="e1", boot_id="b1", seq=seq, ts=at, seat_id=seat, from_state="empty",
              to_state=to, at=at, evidence=Evidence(), historical=True)
    return RawMessage(TOPICS.topic(store, "e1", "event"), encode(m), at)


def _birth(store: str) -> RawMessage:
    b = Birth(store_id=store, edge_id="e1", boot_id="b1", seq=1, ts=MIDNIGHT - 40 * HOUR, config_version=1,
              seats=LAYOUT, states=[])
    return RawMessage(TOPICS.topic(store, "e1", "birth"), encode(b), MIDNIGHT)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def same_row(got, want) -> bool:
    return (all(close(getattr(got, f), getattr(want, f)) for f in
                ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "stay_total_s"))
            and (got.entries, got.stays, got.abandoned_incidents) == (want.entries, want.stays, want.abandoned_incidents))


async def assert_rollups_exact(db, store: str, last_at_everywhere: bool = True):
    """Every seat-hour row equals compute_store_stats over the seat's whole history; store hours are
    the sums of their seat hours. Returns the stored events and each seat's history."""
    stored = (await db.execute(select(SeatEvent.seat_id, SeatEvent.at, SeatEvent.to_state)
                               .where(SeatEvent.store_id == store).order_by(SeatEvent.at, SeatEvent.id))).all()
    hours = (await db.execute(select(SeatHourRow).where(SeatHourRow.store_id == store))).scalars().all()
    shours = (await db.execute(select(StoreHourRow).where(StoreHourRow.store_id == store))).scalars().all()
    history: dict[str, list[tuple[float, str]]] = {}
    for seat, at, to in stored:
        history.setdefault(seat, []).append((at, to))
    # every seat-hour from each seat's first event up to the store's last event hour
    h0 = min(math.floor(h[0][0] / HOUR) * HOUR for h in history.values())
    h1 = max(math.floor(h[-1][0] / HOUR) * HOUR for h in history.values()) + HOUR
    raw = compute_store_stats({s: SeatTimeline(transitions=t) for s, t in history.items()}, h0, h1, "hour", TZ)
    want = {(r.seat_id, r.start): r for r in raw.seats}
    got = {(r.seat_id, r.hour): r for r in hours}
    first = {s: math.floor(t[0][0] / HOUR) * HOUR for s, t in history.items()}
    assert set(got) == {k for k in want if k[1] >= first[k[0]]}, "one row per seat-hour, no gaps"
    for k, r in got.items():
        assert same_row(r, want[k]), (k, r, want[k])
        in_hour = [at for at, _ in history[k[0]] if k[1] <= at < k[1] + HOUR]
        if last_at_everywhere or k[1] == h1 - HOUR:  # the migration fills only the current hour
            assert r.last_at == (max(in_hour) if in_hour else None), k  # where the append path resumes
    for sh in shours:
        seats = [got[(s, sh.hour)] for s in history if (s, sh.hour) in got]
        assert sh.seats == len(seats)
        for f in ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "stay_total_s"):
            assert close(getattr(sh, f), sum(getattr(x, f) for x in seats)), (sh.hour, f)
        assert sh.entries == sum(x.entries for x in seats) and sh.stays == sum(x.stays for x in seats)
    assert {sh.hour for sh in shours} == {k[1] for k in got}
    return stored, history


async def _run(url: str, batches, window) -> None:
    store = f"r{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    try:
        sm = make_sessionmaker(engine)
        writer = IngestWriter(sm, TOPICS)
        await writer.write([_birth(store)], now=NOW)
        for batch in batches:
            await writer.write([_raw(store, seq, e) for seq, e in batch], now=NOW)
        async with sm() as db:
            stored, history = await assert_rollups_exact(db, store)
            # the statistics from rollups equal compute_store_stats over the whole history
            start, end, bucket = window
            end = max(end, stored[-1][1] + 1.0)  # the cut of the last hour needs no event after the end
            rows = await seat_hour_rows(db, store, start, end, active=set(SEATS))
            assert rows is not None
            from_rollups = store_stats_from_hours(rows, start, end, bucket, ZONE)
            timelines = {s: SeatTimeline(transitions=history.get(s, [])) for s in SEATS}
            exact = compute_store_stats(timelines, start, end, bucket, TZ)
            assert len(from_rollups.seats) == len(exact.seats)
            for a, b in zip(from_rollups.seats, exact.seats):
                assert a.seat_id == b.seat_id and close(a.start, b.start) and close(a.end, b.end)
                assert same_row(a, b), (a, b)
            for a, b in zip(from_rollups.buckets, exact.buckets, strict=True):
                assert same_row(a, b) and a.seats == b.seats, (a, b)
            assert [(d.day, d.stays, d.abandoned_incidents) for d in from_rollups.days] == \
                [(d.day, d.stays, d.abandoned_incidents) for d in exact.days]
            for a, b in zip(from_rollups.days, exact.days, strict=True):
                assert (a.occupancy_rate is None) == (b.occupancy_rate is None)
                assert a.occupancy_rate is None or close(a.occupancy_rate, b.occupancy_rate)
            # each seat's sums over the window (history page), one SQL aggregate plus cut and fill
            totals = await seat_totals(db, store, start, end)
            assert set(totals) <= set(history)
            for sid, t in totals.items():
                mine = [r for r in exact.seats if r.seat_id == sid] if bucket == "hour" else \
                    [r for r in compute_store_stats(timelines, start, end, "hour", TZ).seats if r.seat_id == sid]
                for f in ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "stay_total_s"):
                    assert close(getattr(t, f), sum(getattr(r, f) for r in mine)), (sid, f)
                assert (t.stays, t.entries) == (sum(r.stays for r in mine), sum(r.entries for r in mine))
            # the store series (HQ overview, history page) from store hours
            series = (await store_hours(db, [store], start, end))[store]
            if series:
                ex = compute_store_stats({s: SeatTimeline(transitions=t) for s, t in history.items()},
                                         start, end, "hour", TZ)
                for a, b in zip(series, ex.buckets, strict=True):
                    assert close(a.start, b.start) and close(a.end, b.end)
                    if a.seats == b.seats:  # hours before a seat's first event: the rollup leaves it out
                        assert same_row(a, b), (a, b)
                    else:
                        assert close(a.known_s, b.known_s) and a.stays == b.stays
    finally:
        await engine.dispose()


windows = st.tuples(
    st.integers(-26, 2).map(lambda k: MIDNIGHT + k * HOUR),  # windows start on an hour
    st.floats(1, 40 * HOUR), st.sampled_from(["hour", "day"]),
).map(lambda w: (w[0], w[0] + w[1], w[2]))


def _check(url: str, examples: int) -> None:
    asyncio.run(_migrate(url))

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(deliveries(), windows)
    def check(batches, window):
        asyncio.run(_run(url, batches, window))

    check()


def test_rollups_equal_the_raw_computation_sqlite(sqlite_url):
    _check(sqlite_url, 80)


def test_rollups_equal_the_raw_computation_postgres(pg_url):
    _check(pg_url, 30)


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_async(engine)
    finally:
        await engine.dispose()


def test_the_migration_rolls_up_the_events_stored_before_it(sqlite_url):
    """0010 fills the rollups from the events already in the database (the same pure code)."""
    import random

    async def run() -> None:
        engine = make_engine(sqlite_url)
        try:
            await upgrade_async(engine, "0009_channel_drift")
            rnd = random.Random(3)
            async with engine.begin() as conn:
                await conn.execute(insert(Seat), [
                    {"store_id": "m", "seat_id": s, "edge_id": "e1", "channel": 0, "polygon": [], "active": True}
                    for s in SEATS])
                await conn.execute(insert(SeatEvent), [
                    {"store_id": "m", "seat_id": rnd.choice(SEATS), "edge_id": "e1", "boot_id": "b", "seq": i,
                     "from_state": "empty", "to_state": rnd.choice(STATES),
                     "at": MIDNIGHT + rnd.uniform(-20, 20) * HOUR, "evidence": {}, "historical": False,
                     "received_at": NOW} for i in range(200)])
            await upgrade_async(engine)
            async with make_sessionmaker(engine)() as db:
                await assert_rollups_exact(db, "m", last_at_everywhere=False)
        finally:
            await engine.dispose()

    asyncio.run(run())
