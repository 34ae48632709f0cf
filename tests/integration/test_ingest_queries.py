"""Issue 21: on PostgreSQL the writer reads what one batch needs in a fixed number of statements,
whatever the number of stores in the batch (it was two SELECTs per store: 57 % of the write time
at 500 stores)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import event

from hub.db.migrate import upgrade_async
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from protocol import Birth, Death, Delta, Event, Evidence, SeatDef, SeatSnapshot, TopicSpace, encode

TOPICS = TopicSpace("seat/v1")
SEATS = [SeatDef(seat_id=f"s{i}", channel=1, polygon=[(0, 0), (1, 0), (1, 1)]) for i in range(3)]


def _raw(m) -> RawMessage:
    return RawMessage(TOPICS.topic(m.store_id, m.edge_id, type(m).__struct_config__.tag), encode(m), time.time())


async def _statements_per_kind(url: str, stores: int) -> tuple[dict[str, int], int]:
    engine = make_engine(url)
    await upgrade_async(engine)
    writer = IngestWriter(make_sessionmaker(engine), TOPICS)
    now = time.time()
    names = [f"q{stores}-{i}" for i in range(stores)]
    await writer.write([_raw(Birth(store_id=s, edge_id="e", boot_id="b", seq=1, ts=now, config_version=1,
                                   seats=SEATS, states=[SeatSnapshot("s0", "empty", now)])) for s in names])
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda conn, cur, statement, *a: seen.append(statement.lstrip().split()[0].upper()))
    batch = []
    for i, s in enumerate(names):
        base = {"store_id": s, "edge_id": "e", "boot_id": "b", "ts": now}
        batch += [_raw(Event(**base, seq=2, seat_id="s1", from_state="empty", to_state="occupied", at=now,
                             evidence=Evidence())),
                  _raw(Delta(**base, seq=3, changes=[SeatSnapshot("s1", "occupied", now)]))]
        if i % 2:
            batch.append(_raw(Death(**base, seq=0)))
    result = await writer.write(batch)
    await engine.dispose()
    kinds: dict[str, int] = {}
    for k in seen:
        kinds[k] = kinds.get(k, 0) + 1
    return kinds, result.seat_changes


def test_reads_per_batch_do_not_grow_with_the_stores_in_it(pg_url):
    few, changed_few = asyncio.run(_statements_per_kind(pg_url, 3))
    many, changed_many = asyncio.run(_statements_per_kind(pg_url, 60))
    # edges; seats + states (and dead edges' states); then the rollups (hub/stats/rollup_db.py): the
    # stores' heads (locked), the seats' last rollup rows, their events
    assert few["SELECT"] == many["SELECT"] == 5, (few, many)
    assert sum(few.values()) == sum(many.values()), (few, many)
    # and the batch did its work: s1 occupied in every store, then every second store's edge died
    assert changed_few > 3 and changed_many > 60
