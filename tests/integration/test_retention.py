"""Retention (hub/db/retention.py, `seat-hub maintain`) on real PostgreSQL and the embedded SQLite:
what is past its time goes, in batches, and nothing else; --dry-run deletes nothing; the gap check
(which counts ``ingested`` rows in a missing seq range, health keys included) stays right."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

from hub.db.migrate import upgrade
from hub.db.models import Ingested, SeatEvent
from hub.db.retention import run_retention
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from hub.settings import RetentionSettings
from protocol import Birth, ChannelHealth, Event, Health, SeatDef, SeatSnapshot, TopicSpace, encode

TOPICS = TopicSpace("seat/v1")
T0 = 1_800_000_000.0
DAY = 86400.0
COMMON = dict(store_id="store-a", edge_id="edge-1", boot_id="b")
SEATS = [SeatDef(seat_id="s1", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]


def _raw(msg) -> RawMessage:
    return RawMessage(TOPICS.topic(msg.store_id, msg.edge_id, type(msg).__struct_config__.tag), encode(msg), T0)


def birth(seq: int, t: float):
    return _raw(Birth(seq=seq, ts=t, config_version=1, seats=SEATS, states=[SeatSnapshot("s1", "empty", t)], **COMMON))


def event(seq: int, at: float, frm="empty", to="occupied"):
    return _raw(Event(seq=seq, ts=at, seat_id="s1", from_state=frm, to_state=to, at=at, **COMMON))


def health(seq: int, t: float):
    return _raw(Health(seq=seq, ts=t, channels=[ChannelHealth(channel=1, online=True, fps=5.0)], **COMMON))


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path) -> str:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" \
        else f"sqlite+aiosqlite:///{tmp_path}/hub.sqlite"
    upgrade(url)
    return url


async def _keys(sm) -> list[tuple[int, str]]:
    async with sm() as db:
        return sorted((await db.execute(select(Ingested.seq, Ingested.kind))).all())


async def _event_seqs(sm) -> list[int]:
    async with sm() as db:
        return sorted((await db.execute(select(SeatEvent.seq))).scalars())


def test_retention_deletes_what_is_past_its_time_and_nothing_else(db_url):
    async def go():
        engine = make_engine(db_url)
        sm = make_sessionmaker(engine)
        w = IngestWriter(sm, TOPICS)
        try:
            await w.write([birth(1, T0 - 400 * DAY)], now=T0 - 400 * DAY)
            await w.write([event(2, T0 - 400 * DAY)], now=T0 - 400 * DAY)  # raw event past 13 months
            await w.write([event(3, T0 - 8 * DAY, "occupied", "empty")], now=T0 - 8 * DAY)  # key past 7 days
            await w.write([event(4, T0 - DAY)], now=T0 - DAY)
            await w.write([health(5, T0 - 2 * 3600)], now=T0 - 2 * 3600)  # health key past 60 min
            await w.write([health(6, T0 - 600)], now=T0 - 600)
            before = await _keys(sm), await _event_seqs(sm)
            assert before == ([(1, "birth"), (2, "event"), (3, "event"), (4, "event"), (5, "health"), (6, "health")],
                              [2, 3, 4])
            s = RetentionSettings(batch_rows=1)  # one row per transaction: the batch loop runs
            dry = await run_retention(sm, s, now=T0, dry_run=True)
            assert dry.deleted == {"health_keys": 1, "dedupe_keys": 3, "raw_events": 1}
            assert (await _keys(sm), await _event_seqs(sm)) == before  # a dry run deletes nothing
            assert any("would delete 3" in line for line in dry.lines())
            rep = await run_retention(sm, s, now=T0)
            assert rep.deleted == dry.deleted
            assert await _keys(sm) == [(4, "event"), (6, "health")]
            assert await _event_seqs(sm) == [3, 4]  # seq 3's event stays: 8 days is within 13 months
            again = await run_retention(sm, s, now=T0)
            assert again.deleted == {"health_keys": 0, "dedupe_keys": 0, "raw_events": 0}
            # a redelivery within the dedupe window is still recognised
            r = await w.write([event(4, T0 - DAY)], now=T0)
            assert r.duplicates == 1 and await _event_seqs(sm) == [3, 4]
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_gap_check_counts_recent_health_keys_and_still_finds_real_gaps_after_retention(db_url):
    async def go():
        engine = make_engine(db_url)
        sm = make_sessionmaker(engine)
        w = IngestWriter(sm, TOPICS)
        try:
            await w.write([birth(1, T0)], now=T0)
            await w.write([health(2, T0)], now=T0)
            await w.write([event(3, T0)], now=T0)
            t = T0 + 3 * 3600
            rep = await run_retention(sm, RetentionSettings(), now=t)
            assert rep.deleted["health_keys"] == 1  # seq 2's key is gone: no gap check needs it now
            # seq 5 before seq 4 (another replica's batch, say): 4 is a health message arriving within
            # the grace time. Its key is what tells the gap check that nothing is missing.
            await w.write([health(5, t)], now=t)
            await w.write([health(4, t)], now=t + 1)
            r = await w.check_gaps(now=t + 60)
            assert r.gaps == 0 and r.snapshot_requests == []
            # a real gap (seq 7 never arrives, a health message around it did) is still found
            await w.write([event(8, t + 70, "occupied", "empty")], now=t + 70)
            await w.write([health(6, t + 70)], now=t + 71)
            r = await w.check_gaps(now=t + 130)
            assert r.gaps == 1 and [q.reason for q in r.snapshot_requests] == ["gap"]
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_maintain_command_dry_run_prints_and_deletes_nothing(db_url, tmp_path):
    async def seed():
        engine = make_engine(db_url)
        try:
            w = IngestWriter(make_sessionmaker(engine), TOPICS)
            import time

            old = time.time() - 3 * 3600
            await w.write([birth(1, old)], now=old)
            await w.write([health(2, old)], now=old)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n')
    exe = str(Path(sys.executable).parent / "seat-hub")
    dry = subprocess.run([exe, "maintain", "--config", str(cfg), "--dry-run"], capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "health dedupe keys" in dry.stdout and "would delete 1" in dry.stdout and "nothing was deleted" in dry.stdout
    real = subprocess.run([exe, "maintain", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert real.returncode == 0, real.stderr
    assert "deleted 1" in real.stdout

    async def kinds():
        engine = make_engine(db_url)
        try:
            return [k for _, k in await _keys(make_sessionmaker(engine))]
        finally:
            await engine.dispose()

    assert asyncio.run(kinds()) == ["birth"]  # 3 h old: past the health key window, within dedupe_days


def test_serve_runs_retention_periodically(db_url, broker):
    """The job inside the app (what `serve` runs): with a short interval it deletes on its own."""
    from litestar.testing import TestClient

    from hub.app import create_app
    from tests.support.hub_harness import hub_settings
    from tests.support.waiting import wait_for

    async def seed():
        engine = make_engine(db_url)
        try:
            import time

            old = time.time() - 3 * 3600
            w = IngestWriter(make_sessionmaker(engine), TOPICS)
            await w.write([birth(1, old)], now=old)
            await w.write([health(2, old)], now=old)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    settings = hub_settings(broker, db_url)
    settings = msgspec.structs.replace(settings, retention=RetentionSettings(interval_s=0.2))

    async def kinds():
        engine = make_engine(db_url)
        try:
            return [k for _, k in await _keys(make_sessionmaker(engine))]
        finally:
            await engine.dispose()

    with TestClient(create_app(settings, migrate=True)):
        wait_for(lambda: asyncio.run(kinds()) == ["birth"], timeout=15, what="retention run inside the app")



def test_health_key_delete_can_use_its_partial_index(pg_url):
    """Migration 0007's partial index matches the retention's health delete: PostgreSQL can plan
    it through the index instead of walking days of seat keys in the received_at index."""
    from sqlalchemy import text

    upgrade(pg_url)

    async def plan() -> str:
        engine = make_engine(pg_url)
        try:
            async with engine.connect() as c:
                await c.execute(text("SET enable_seqscan = off"))
                rows = await c.execute(text(
                    "EXPLAIN DELETE FROM ingested WHERE ctid IN (SELECT ctid FROM ingested "
                    "WHERE kind = 'health' AND received_at < 1 LIMIT 10)"))
                return "\n".join(r[0] for r in rows)
        finally:
            await engine.dispose()

    assert "ix_ingested_health_received" in asyncio.run(plan())


def test_store_day_benchmark_runs_and_retention_shrinks_the_day(tmp_path):
    """bench/bench_store_day.py --quick (PostgreSQL): the figures exist and the day kept after
    retention is smaller than the day kept whole (the health keys dominate a small store)."""
    import json

    out = tmp_path / "rows.json"
    r = subprocess.run([sys.executable, "-m", "bench.bench_store_day", "--quick", "--json", str(out)],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["metric"]: row["value"] for row in json.loads(out.read_text())}
    whole = rows["bytes per store-day without retention (every day, for ever)"]
    week = rows["per store-day with retention: kept for dedupe_days (7 d), health keys gone"]
    kept = rows["per store-day with retention: kept for raw_events_months (13 months)"]
    assert 0 < kept < week < whole
