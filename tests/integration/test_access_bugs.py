"""The access bugs found by acting as a hostile edge / site (issue 8), each shown first by a test
that failed on the code before the fix."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from hub.db.migrate import upgrade
from hub.db.models import SeatEvent
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from protocol import Birth, Delta, Event, SeatDef, SeatSnapshot, TopicSpace, encode

TOPICS = TopicSpace("seat/v1")


def _raw(msg, kind: str) -> RawMessage:
    return RawMessage(TOPICS.topic(msg.store_id, msg.edge_id, kind), encode(msg), time.time())


async def _ingest_two_stores(url: str) -> dict[str, int]:
    engine = make_engine(url)
    writer = IngestWriter(make_sessionmaker(engine), TOPICS)
    seat = [SeatDef(seat_id="s1", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
    try:
        for store in ("victim", "hostile"):
            await writer.write([_raw(Birth(store_id=store, edge_id="edge1", boot_id="b", seq=1, ts=time.time(),
                                           config_version=1, seats=seat,
                                           states=[SeatSnapshot("s1", "empty", time.time())]), "birth")])
        # The hostile store copies the victim's edge id, boot id and next seq (which the public
        # API used to show) and publishes first, under its own store's topics.
        ev = dict(edge_id="edge1", boot_id="b", seq=2, ts=time.time(), seat_id="s1", from_state="empty",
                  to_state="occupied", at=time.time())
        await writer.write([_raw(Event(store_id="hostile", **ev), "event")])
        await writer.write([_raw(Event(store_id="victim", **ev), "event")])
        async with make_sessionmaker(engine)() as db:
            rows = await db.execute(select(SeatEvent.store_id, func.count()).group_by(SeatEvent.store_id))
            return dict(rows.all())
    finally:
        await engine.dispose()


def test_one_store_cannot_make_another_stores_events_vanish_as_duplicates(pg_url):
    upgrade(pg_url)
    counts = asyncio.run(_ingest_two_stores(pg_url))
    assert counts == {"hostile": 1, "victim": 1}


def test_the_store_api_does_not_expose_boot_id_or_last_seq(pg_url, make_hub, sim):
    from tests.support.waiting import wait_for

    client = make_hub(pg_url)
    edge = sim()
    edge.birth()
    detail = wait_for(lambda: (r := client.get("/api/v1/stores/store-a")).status_code == 200 and r.json(),
                      what="store detail")
    edge_out = detail["edges"][0]
    assert edge_out["edge_id"] == "edge-1"
    assert "boot_id" not in edge_out and "last_seq" not in edge_out
    assert edge.boot_id not in client.get("/api/v1/stores/store-a").text


async def _gaps_in_three_stores(url: str) -> list[tuple[str, str, str]]:
    """Stores a, b and c each run an edge named "edge-1" (the default) whose boot ids and lost
    sequence ranges collide; only store a's missing messages arrive late."""
    engine = make_engine(url)
    writer = IngestWriter(make_sessionmaker(engine), TOPICS)
    seat = [SeatDef(seat_id="s1", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
    t0 = 1_800_000_000.0  # fixed times: the grace period is passed as `now`
    common = dict(edge_id="edge-1", boot_id="b", ts=t0)

    def delta(store: str, seq: int) -> RawMessage:
        return _raw(Delta(store_id=store, seq=seq, changes=[SeatSnapshot("s1", "occupied", t0)], **common), "delta")

    try:
        for store in ("a", "b", "c"):
            await writer.write([_raw(Birth(store_id=store, seq=1, config_version=1, seats=seat,
                                           states=[SeatSnapshot("s1", "empty", t0)], **common), "birth")], now=t0)
        for store in ("a", "b", "c"):  # seq 2 and 3 lost on the way: the same range in every store
            await writer.write([delta(store, 4)], now=t0 + 1)
        await writer.write([delta("a", 2), delta("a", 3)], now=t0 + 2)  # store a's hole fills
        r = await writer.check_gaps(now=t0 + 60)
        return sorted((q.store_id, q.edge_id, q.reason) for q in r.snapshot_requests)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_one_stores_hole_fill_does_not_cancel_another_stores_gap(backend, request, tmp_path):
    # The pending gaps were keyed without the store: store a's range, noticed first, stood for all
    # three, so its fill left b and c (same edge id, boot id and range) without a snapshot request.
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/h.sqlite"
    upgrade(url)
    assert asyncio.run(_gaps_in_three_stores(url)) == [("b", "edge-1", "gap"), ("c", "edge-1", "gap")]
