"""Retention: what the hub deletes, and when (``seat-hub maintain``, and periodically in ``serve``).

Three kinds of rows grow without end otherwise (~3.5 MB per store-day before this, 86 % of it
``ingested``):
- dedupe keys of health messages: a health message every 10 s per edge, ~86 % of ``ingested``.
  A key is needed only while a redelivery can still arrive and while the gap check
  (``IngestWriter.check_gaps``, which counts ``ingested`` rows in a missing seq range a few
  seconds after it was noticed) may look at it. Health seqs are in the same per-edge sequence as
  seat messages, so dropping them at ingest would make every health message look like a gap;
  they are inserted as before and deleted after ``health_keys_minutes`` instead.
- dedupe keys of everything else: kept ``dedupe_days`` (longer than any broker session or
  outbox replay, so a redelivery is still recognised).
- raw seat events (``seat_events``): kept ``raw_events_months``; statistics and history before
  that are gone (no rollups yet).

Deletes run in batches of ``batch_rows``, each its own short transaction, so ingest never waits
long for a lock and the event loop gets control between batches (the I/O is async).

On PostgreSQL ``seat_events`` is partitioned by month (hub/db/partitions.py): whole months past
the cutoff are dropped first (no row-by-row delete, no bloat to vacuum), the batched deletes then
take what is left (the default partition, the cutoff's own month); every run also makes the
months ahead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Ingested, SeatEvent, Store
from hub.db.partitions import drop_before, ensure_partitions

log = logging.getLogger(__name__)


class RetentionSettings(Protocol):
    """hub.settings.RetentionSettings (the database layer does not import the settings)."""

    dedupe_days: float
    health_keys_minutes: float
    raw_events_months: int
    interval_s: float
    batch_rows: int


def months_before(now: float, months: int) -> float:
    """The same calendar day ``months`` months before ``now`` (UTC; clamped to the month's end)."""
    d = datetime.fromtimestamp(now, UTC)
    y, m = divmod(d.year * 12 + (d.month - 1) - months, 12)
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
            31][m - 1]
    return d.replace(year=y, month=m, day=min(d.day, last)).timestamp()


@dataclass
class Cutoffs:
    """Rows older than these epoch seconds go."""

    health_keys: float
    dedupe_keys: float
    raw_events: float | None  # None: kept for ever


def cutoffs(s: RetentionSettings, now: float) -> Cutoffs:
    return Cutoffs(
        health_keys=now - s.health_keys_minutes * 60.0,
        dedupe_keys=now - s.dedupe_days * 86400.0,
        raw_events=months_before(now, s.raw_events_months) if s.raw_events_months > 0 else None,
    )


@dataclass
class RetentionReport:
    cutoffs: Cutoffs
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=lambda: {"health_keys": 0, "dedupe_keys": 0, "raw_events": 0})
    seconds: float = 0.0
    partitions_dropped: list[str] = field(default_factory=list)
    partitions_made: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"

        def when(t: float | None) -> str:
            return "never (kept for ever)" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")

        c = self.cutoffs
        return [
            f"health dedupe keys received before {when(c.health_keys)}: {verb} {self.deleted['health_keys']}",
            f"other dedupe keys received before {when(c.dedupe_keys)}: {verb} {self.deleted['dedupe_keys']}",
            f"raw seat events before {when(c.raw_events)}: {verb} {self.deleted['raw_events']}",
        ] + ([f"partitions {'to drop' if self.dry_run else 'dropped'}: {', '.join(self.partitions_dropped)}"]
             if self.partitions_dropped else []) + (
            [f"partitions made ahead: {', '.join(self.partitions_made)}"] if self.partitions_made else [])


def _ingested_where(health: bool, before: float):
    kind = Ingested.kind == "health" if health else Ingested.kind != "health"
    return (kind, Ingested.received_at < before)


async def _delete_ingested_batch(db: AsyncSession, health: bool, before: float, n: int) -> int:
    # ``ingested`` has a four-column key: a batch is picked by the physical row id (PostgreSQL ctid,
    # SQLite rowid). Health keys are found through their partial index (ix_ingested_health_received,
    # migration 0007); the rest through the received_at index, all kinds alike (health keys that
    # old are past their time as well), so no batch walks days of rows it keeps.
    # (tableoid, ctid): a ctid is unique only within one partition
    rid = "ctid" if db.bind.dialect.name == "postgresql" else "rowid"
    where = "kind = 'health' AND received_at < :before" if health else "received_at < :before"
    r = await db.execute(text(
        f"DELETE FROM ingested WHERE {rid} IN (SELECT {rid} FROM ingested WHERE {where} LIMIT :n)"),
        {"before": before, "n": n})
    return r.rowcount or 0


async def run_retention(sessionmaker: async_sessionmaker, s: RetentionSettings, now: float | None = None,
                        dry_run: bool = False) -> RetentionReport:
    """Delete (or with ``dry_run`` count) what is past retention; see the module docstring."""
    t0 = time.monotonic()
    now = time.time() if now is None else now
    rep = RetentionReport(cutoffs(s, now), dry_run)
    c = rep.cutoffs
    n = max(1, s.batch_rows)
    async with sessionmaker() as db, db.begin():
        conn = await db.connection()
        if not dry_run:
            rep.partitions_made = await ensure_partitions(conn, now)
        if c.raw_events is not None:
            names, rows = await drop_before(conn, "seat_events", c.raw_events, dry_run)
            rep.partitions_dropped += names
            if not dry_run:  # a dry run counts these rows with the rest below
                rep.deleted["raw_events"] += rows
    for key, health, before in (("health_keys", True, c.health_keys), ("dedupe_keys", False, c.dedupe_keys)):
        if dry_run:
            async with sessionmaker() as db:
                rep.deleted[key] = (await db.execute(
                    select(func.count()).select_from(Ingested).where(*_ingested_where(health, before)))).scalar_one()
            continue
        while True:
            async with sessionmaker() as db, db.begin():
                k = await _delete_ingested_batch(db, health, before, n)
            rep.deleted[key] += k
            await asyncio.sleep(0)  # let ingest and live updates in between batches
            if k < n:
                break
    if c.raw_events is not None:
        async with sessionmaker() as db:
            stores = list((await db.execute(select(Store.id))).scalars())
            # events of stores deleted meanwhile too: their rows are still in seat_events
            stores += [sid for sid in (await db.execute(select(SeatEvent.store_id).distinct())).scalars()
                       if sid not in stores]
        for sid in stores:  # per store: the (store_id, at) index finds the old rows
            old = (SeatEvent.store_id == sid, SeatEvent.at < c.raw_events)
            if dry_run:
                async with sessionmaker() as db:
                    rep.deleted["raw_events"] += (await db.execute(
                        select(func.count()).select_from(SeatEvent).where(*old))).scalar_one()
                continue
            while True:
                async with sessionmaker() as db, db.begin():
                    ids = select(SeatEvent.id).where(*old).limit(n).scalar_subquery()
                    k = (await db.execute(delete(SeatEvent).where(SeatEvent.id.in_(ids)))).rowcount or 0
                rep.deleted["raw_events"] += k
                await asyncio.sleep(0)
                if k < n:
                    break
    rep.seconds = time.monotonic() - t0
    return rep


async def retention_loop(sessionmaker: async_sessionmaker, s: RetentionSettings) -> None:
    """In ``serve``: the job every ``interval_s`` (first run one interval after the start, so a
    restart loop does not delete in a loop). Errors are logged; the next run tries again."""
    while True:
        await asyncio.sleep(s.interval_s)
        try:
            rep = await run_retention(sessionmaker, s)
            if any(rep.deleted.values()):
                log.info("retention: %s (%.1f s)", "; ".join(rep.lines()), rep.seconds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention job failed; trying again in %.0f s", s.interval_s)
