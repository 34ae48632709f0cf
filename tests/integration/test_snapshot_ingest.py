"""Snapshot answers in the ingest: only the edge that was asked can fill a request, once; a
payload that is not a JPEG is stored as a failure, never served."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from hub.db.migrate import upgrade
from hub.db.models import Snapshot
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from protocol import TopicSpace, encode
from protocol.messages import Frame

TOPICS = TopicSpace("seat/v1")
JPEG = b"\xff\xd8\xff\xe0" + b"x" * 100


async def _run(url: str) -> list[tuple]:
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as db:
            for rid in ("r1", "r2"):
                db.add(Snapshot(store_id="a", edge_id="edge1", channel=1, request_id=rid, requested_by="admin",
                                requested_at=time.time()))
            await db.commit()
        w = IngestWriter(sm, TOPICS)

        def raw(f: Frame) -> RawMessage:
            return RawMessage(TOPICS.topic(f.store_id, f.edge_id, "frame"), encode(f), time.time())

        base = dict(ts=time.time(), channel=1)
        # store b's edge answers a's request (it learnt the id somehow): dropped
        r = await w.write([raw(Frame(store_id="b", edge_id="edge1", request_id="r1", jpeg=b"\xff\xd8evil", **base))])
        assert r.dropped == 1
        await w.write([raw(Frame(store_id="a", edge_id="edge1", request_id="r1", jpeg=JPEG, faces_blurred=2, **base))])
        # a second answer to the same request does not replace the first
        r = await w.write([raw(Frame(store_id="a", edge_id="edge1", request_id="r1", jpeg=b"\xff\xd8new", **base))])
        assert r.dropped == 1
        await w.write([raw(Frame(store_id="a", edge_id="edge1", request_id="r2", jpeg=b"GIF89a", **base))])
        async with sm() as db:
            rows = await db.execute(select(Snapshot.request_id, Snapshot.jpeg, Snapshot.faces_blurred, Snapshot.error)
                                    .order_by(Snapshot.request_id))
            return [tuple(x) for x in rows]
    finally:
        await engine.dispose()


def test_only_the_asked_edge_fills_a_snapshot_once(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    rows = asyncio.run(_run(url))
    assert rows[0] == ("r1", JPEG, 2, None)
    assert rows[1][0] == "r2" and rows[1][1] is None and "no valid JPEG" in rows[1][3]


def test_an_unanswered_request_turns_failed_with_advice():
    from hub.stores.snapshots import ANSWER_WITHIN_S, _out

    s = Snapshot(id=1, store_id="a", edge_id="e", channel=1, request_id="r", requested_by="admin", requested_at=0.0)
    assert _out(s, now=ANSWER_WITHIN_S - 1).status == "requested"
    late = _out(s, now=ANSWER_WITHIN_S + 1)
    assert late.status == "failed" and "did not answer" in late.error and late.url is None
