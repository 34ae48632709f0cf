"""Time partitions of ``seat_events`` on PostgreSQL (native declarative partitioning, kept by
the hub itself), one per UTC month of ``at`` (``seat_events_p202612``); retention drops whole
months past ``raw_events_months`` instead of deleting rows one by one (no bloat to vacuum, a
year of 500 stores gone in one statement).

A DEFAULT partition takes rows no month partition takes (an edge back with a backlog older than
the partitions, or months while no maintenance ran). ``ensure_partitions`` makes the months from
the oldest row waiting in the default (at most ``back`` months back) to ``ahead`` months after
now; a month made for rows already in the default takes them over in the same transaction. It
runs after every migration (so at every ``serve`` start) and with every retention run.

Why the hub's own job and not pg_partman: one less extension to install and upgrade on each
hub's database (a managed PostgreSQL may not offer it), and the hub needs only create-ahead and
drop-behind on one table.

Why not the dedupe table ``ingested``: a partition key must be part of every unique key, and
the dedupe key must stay exactly (store, edge, boot, seq); the only time stable across
redeliveries is the edge's own message time, which a hostile box could vary to replay a seq as
new. Its rows live an hour (health, ~86 %) to ``dedupe_days`` (7): retention's batched deletes
on its received_at indexes keep it at a few days of keys per store. SQLite (one store) is not
partitioned.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheme:
    table: str
    column: str
    period: str  # "month" | "day"
    ahead: int  # periods made ahead of now
    back: int  # periods made behind now at most, for a backlog (older rows stay in the default)


# back: longer than the default retention (13 months), so a backlog that is still kept gets its
# own partitions; older rows wait in the default partition for retention's batched delete
# instead of making partitions that the same run would drop. (``day`` periods are supported
# for a table with a shorter life.)
SCHEMES = (Scheme("seat_events", "at", "month", 2, 24),)


@dataclass(frozen=True)
class Period:
    name: str
    lo: float
    hi: float


def period_of(scheme: Scheme, t: float) -> Period:
    d = datetime.fromtimestamp(t, UTC)
    if scheme.period == "month":
        lo = datetime(d.year, d.month, 1, tzinfo=UTC)
        hi = lo + timedelta(days=calendar.monthrange(d.year, d.month)[1])
        return Period(f"{scheme.table}_p{lo:%Y%m}", lo.timestamp(), hi.timestamp())
    lo = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return Period(f"{scheme.table}_p{lo:%Y%m%d}", lo.timestamp(), (lo + timedelta(days=1)).timestamp())


def periods(scheme: Scheme, first: float, now: float) -> list[Period]:
    """Every period from the one holding ``first`` (at most ``back`` periods before ``now``'s)
    to ``ahead`` periods after ``now``'s."""
    start = period_of(scheme, now)
    for _ in range(scheme.back):
        if start.lo <= first:
            break
        start = period_of(scheme, start.lo - 1)
    out = [start]
    last = period_of(scheme, now)
    for _ in range(scheme.ahead):
        last = period_of(scheme, last.hi)
    while out[-1].hi <= last.lo:
        out.append(period_of(scheme, out[-1].hi))
    return out


async def is_partitioned(conn, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    r = await conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = :t"),
        {"t": table})
    return r.first() is not None


async def existing(conn, table: str) -> dict[str, tuple[float, float] | None]:
    """Partition name -> (lo, hi) of a range partition, None for the default one."""
    rows = (await conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"),
        {"t": table})).all()
    out: dict[str, tuple[float, float] | None] = {}
    for name, bound in rows:
        if bound == "DEFAULT":
            out[name] = None
            continue
        # FOR VALUES FROM ('1764547200') TO ('1767225600')
        parts = bound.replace("'", "").replace("(", " ").replace(")", " ").split()
        out[name] = (float(parts[3]), float(parts[5]))
    return out


async def _create(conn, s: Scheme, p: Period) -> None:
    """Make one range partition; rows of its range waiting in the default partition move into it
    (attaching refuses while the default holds any)."""
    default = f"{s.table}_default"
    await conn.execute(text(f'CREATE TABLE "{p.name}" (LIKE {s.table} INCLUDING DEFAULTS)'))
    await conn.execute(text(
        f'WITH moved AS (DELETE FROM "{default}" WHERE {s.column} >= :lo AND {s.column} < :hi RETURNING *) '
        f'INSERT INTO "{p.name}" SELECT * FROM moved'), {"lo": p.lo, "hi": p.hi})
    await conn.execute(text(
        f"ALTER TABLE {s.table} ATTACH PARTITION \"{p.name}\" FOR VALUES FROM ('{p.lo!r}') TO ('{p.hi!r}')"))


async def ensure_partitions(conn, now: float) -> list[str]:
    """Create the missing partitions of both tables (PostgreSQL, partitioned tables only);
    returns the names created."""
    made: list[str] = []
    for s in SCHEMES:
        if not await is_partitioned(conn, s.table):
            continue
        have = await existing(conn, s.table)
        # from the oldest row still in the default partition (a backlog), else from now
        first = (await conn.execute(text(f'SELECT min({s.column}) FROM "{s.table}_default"'))).scalar()
        covered = [b for b in have.values() if b is not None]
        for p in periods(s, now if first is None else float(first), now):
            if p.name in have or any(lo < p.hi and p.lo < hi for lo, hi in covered):
                continue
            await _create(conn, s, p)
            made.append(p.name)
    if made:
        log.info("partitions created: %s", ", ".join(made))
    return made


async def drop_before(conn, table: str, before: float, dry_run: bool = False) -> tuple[list[str], int]:
    """Drop the range partitions of ``table`` wholly before ``before``; returns their names and
    the rows they held (counted first, for the report)."""
    if not await is_partitioned(conn, table):
        return [], 0
    names, rows = [], 0
    for name, bound in sorted((await existing(conn, table)).items(), key=lambda kv: kv[1] or (0, 0)):
        if bound is None or bound[1] > before:
            continue
        rows += (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one()
        names.append(name)
        if not dry_run:
            await conn.execute(text(f'ALTER TABLE {table} DETACH PARTITION "{name}"'))
            await conn.execute(text(f'DROP TABLE "{name}"'))
    return names, rows
