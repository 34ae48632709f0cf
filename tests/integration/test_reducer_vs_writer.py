"""Property: what the writer stores in a real PostgreSQL equals what the pure reducer decides
(hub.ingest.reducer) when it is given the whole current picture, for random message sequences
in random batches: redeliveries, gaps, foreign boots, replayed (historical) deltas, seats outside
the layout, deaths, births by layout hash. The writer loads only the rows a batch can touch; this
checks that the narrow load, the dedupe table and the flush lose and invent nothing."""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db.migrate import upgrade_async
from hub.db.models import Edge, SeatEvent, SeatStateRow
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage, parse_batch
from hub.ingest.reducer import Current, reduce_batch
from hub.ingest.writer import IngestWriter
from protocol import Birth, Death, Delta, Event, Evidence, Health, SeatDef, SeatSnapshot, TopicSpace, encode
from protocol.messages import ChannelHealth

TOPICS = TopicSpace("seat/v1")
T0 = time.time()
LAYOUT = [SeatDef(seat_id=f"A{i}", channel=i % 2, polygon=[(0, 0), (1, 0), (1, 1)]) for i in range(4)]
SEAT_IDS = [*(s.seat_id for s in LAYOUT), "ghost"]
STATES = ["empty", "occupied", "away", "abandoned", "unknown"]

edges = st.sampled_from(["e1", "e2"])
boots = st.sampled_from(["b1", "b2"])
seqs = st.integers(1, 12)
times = st.floats(-120, 5).map(lambda d: round(T0 + d, 3))


@st.composite
def message(draw):
    base = {"store_id": "x", "edge_id": draw(edges), "boot_id": draw(boots), "seq": draw(seqs), "ts": draw(times)}
    kind = draw(st.sampled_from(["delta", "delta", "delta", "event", "birth", "death", "health"]))
    if kind == "delta":
        changes = draw(st.dictionaries(st.sampled_from(SEAT_IDS), st.sampled_from(STATES), max_size=3))
        return Delta(**base, historical=draw(st.booleans()),
                     changes=[SeatSnapshot(s, v, draw(times)) for s, v in changes.items()])
    if kind == "event":
        return Event(**base, seat_id=draw(st.sampled_from(SEAT_IDS)), from_state="empty",
                     to_state=draw(st.sampled_from(STATES)), at=draw(times), evidence=Evidence(),
                     historical=draw(st.booleans()))
    if kind == "birth":
        seats = LAYOUT if draw(st.booleans()) else []
        return Birth(**base, config_version=1, seats=seats, layout_hash="" if seats else "0" * 32,
                     states=[SeatSnapshot(s, draw(st.sampled_from(STATES)), draw(times))
                             for s in draw(st.lists(st.sampled_from(SEAT_IDS), max_size=4, unique=True))])
    if kind == "death":
        return Death(**base)
    return Health(**base, channels=[ChannelHealth(channel=0, online=draw(st.booleans()))])


batches = st.lists(st.lists(message(), min_size=1, max_size=6), min_size=1, max_size=6)


def _raws(store: str, batch) -> list[RawMessage]:
    out = []
    for m in batch:
        m = msgspec.structs.replace(m, store_id=store)
        out.append(RawMessage(TOPICS.topic(store, m.edge_id, type(m).__struct_config__.tag), encode(m), T0))
    return out


def _model(store: str, batches_, nows: list[float]):
    """The reducer alone, over the whole picture, with the dedupe table as a set."""
    cur, ingested, events = Current(), set(), 0
    for batch, now in zip(batches_, nows):
        parsed = parse_batch(_raws(store, batch), TOPICS, now)
        fresh = [m for m in parsed.msgs if (m.store_id, m.edge_id, m.boot_id, m.seq) not in ingested]
        ingested |= {(m.store_id, m.edge_id, m.boot_id, m.seq) for m in fresh}
        writes, result = reduce_batch(fresh, cur, now)
        # the writer forgets the dedupe keys of messages it left unsettled (an event of a seat not
        # in the layout yet): the same seq is looked at again when it comes again
        ingested -= set(result.unsettled)
        cur.edges.update(writes.edges)
        cur.states.update({(r.store_id, r.seat_id): r for r in writes.states})
        for b in writes.births:
            cur.known_seats |= {(store, r["seat_id"]) for r in b.seats or ()}
        events += len(writes.events)
    return cur, events


async def _stored(url: str, store: str, batches_, nows: list[float]):
    engine = make_engine(url)
    try:
        writer = IngestWriter(make_sessionmaker(engine), TOPICS)
        for batch, now in zip(batches_, nows):
            await writer.write(_raws(store, batch), now=now)
        async with make_sessionmaker(engine)() as s:
            states = (await s.execute(select(SeatStateRow).where(SeatStateRow.store_id == store))).scalars().all()
            edge_rows = (await s.execute(select(Edge).where(Edge.store_id == store))).scalars().all()
            events = (await s.execute(select(SeatEvent).where(SeatEvent.store_id == store))).scalars().all()
            return ({r.seat_id: (r.state, r.since, r.observed_at, r.edge_id, r.updated_at) for r in states},
                    {e.edge_id: (e.boot_id, e.last_seq, e.online, e.offline_since, e.snapshot_requested_at,
                                 e.last_seen, e.layout_hash) for e in edge_rows},
                    len(events))
    finally:
        await engine.dispose()


def test_the_writer_stores_what_the_reducer_decides(pg_url):
    asyncio.run(_migrate(pg_url))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(batches)
    def check(batches_):
        store = f"p{uuid.uuid4().hex[:10]}"
        nows = [T0 + i for i in range(len(batches_))]
        model, model_events = _model(store, batches_, nows)
        states, edge_rows, stored_events = asyncio.run(_stored(pg_url, store, batches_, nows))
        assert states == {sid: (r.state, r.since, r.observed_at, r.edge_id, r.updated_at)
                          for (_, sid), r in model.states.items()}
        assert edge_rows == {eid: (e.boot_id, e.last_seq, e.online, e.offline_since, e.snapshot_requested_at,
                                   e.last_seen, e.layout_hash) for (_, eid), e in model.edges.items()}
        assert stored_events == model_events

    check()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_async(engine)
    finally:
        await engine.dispose()
