"""Time partitions of seat_events on real PostgreSQL (hub/db/partitions.py, migration 0012):
events land in their month's partition, a backlog that arrived before its month existed moves out
of the default partition, redeliveries stay duplicates across all of it, and retention drops
whole months."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from hub.db.migrate import upgrade
from hub.db.models import Ingested, SeatEvent
from hub.db.partitions import ensure_partitions, existing
from hub.db.retention import run_retention
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.writer import IngestWriter
from hub.settings import RetentionSettings
from tests.integration.test_retention import DAY, T0, TOPICS, birth, event


async def _count(sm, sql: str) -> int:
    async with sm() as db:
        return (await db.execute(text(sql))).scalar_one()


def test_rows_go_to_their_partitions_backlogs_move_and_retention_drops_whole_months(pg_url):
    upgrade(pg_url)

    async def go():
        engine = make_engine(pg_url)
        sm = make_sessionmaker(engine)
        w = IngestWriter(sm, TOPICS)
        try:
            async with engine.begin() as c:
                await ensure_partitions(c, T0)  # the hub's clock: partitions up to T0's month + 2
                have = set(await existing(c, "seat_events"))
            assert {"seat_events_p202701", "seat_events_p202703", "seat_events_default"} <= have
            old = T0 - 200 * DAY  # 2026-06-29: no partition for it yet -> the default partition
            batch = [birth(1, T0), event(2, T0), event(3, old, "occupied", "empty")]
            r = await w.write(batch, now=T0)
            assert r.written == 3
            assert await _count(sm, "SELECT count(*) FROM seat_events_p202701") == 1
            assert await _count(sm, "SELECT count(*) FROM seat_events_default") == 1
            # a redelivery of the whole batch: duplicates, nothing stored twice
            r = await w.write(batch, now=T0 + 5)
            assert r.duplicates == 3 and r.written == 0
            async with sm() as db:
                assert (await db.execute(select(func.count()).select_from(SeatEvent))).scalar_one() == 2
                assert (await db.execute(select(func.count()).select_from(Ingested))).scalar_one() == 3
            # the next run makes the backlog's month (and every month up to now) and moves it there
            async with engine.begin() as c:
                made = await ensure_partitions(c, T0)
                parts = await existing(c, "seat_events")
            assert "seat_events_p202606" in made and "seat_events_p202611" in made
            assert await _count(sm, "SELECT count(*) FROM seat_events_default") == 0
            assert await _count(sm, "SELECT count(*) FROM seat_events_p202606") == 1
            assert parts["seat_events_default"] is None
            # still a duplicate after the move
            r = await w.write([event(3, old, "occupied", "empty")], now=T0 + 10)
            assert r.duplicates == 1
            # retention keeping 3 months drops June 2026 (and the empty months up to Oct) whole
            rep = await run_retention(sm, RetentionSettings(raw_events_months=3, dedupe_days=7), now=T0)
            assert "seat_events_p202606" in rep.partitions_dropped
            assert "seat_events_p202612" not in rep.partitions_dropped
            async with sm() as db:
                assert list((await db.execute(select(SeatEvent.seq))).scalars()) == [2]
            async with engine.connect() as c:
                assert "seat_events_p202606" not in await existing(c, "seat_events")
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_dry_run_drops_no_partition(pg_url):
    upgrade(pg_url)

    async def go():
        engine = make_engine(pg_url)
        sm = make_sessionmaker(engine)
        w = IngestWriter(sm, TOPICS)
        try:
            await w.write([birth(1, T0 - 200 * DAY), event(2, T0 - 200 * DAY)], now=T0 - 200 * DAY)
            async with engine.begin() as c:
                await ensure_partitions(c, T0)
            rep = await run_retention(sm, RetentionSettings(raw_events_months=3), now=T0, dry_run=True)
            assert "seat_events_p202606" in rep.partitions_dropped and rep.deleted["raw_events"] == 1
            assert await _count(sm, "SELECT count(*) FROM seat_events_p202606") == 1
        finally:
            await engine.dispose()

    asyncio.run(go())
