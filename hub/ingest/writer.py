"""Ingest storage: load the rows a batch touches, let the pure reducer decide
(:mod:`hub.ingest.reducer`), write what it decided; one transaction per batch.

- Redeliveries are dropped by insert-or-ignore on ``ingested`` (store_id, edge_id, boot_id, seq);
  events additionally carry a unique key (with ``at``, the partition key of ``seat_events`` on
  PostgreSQL), so a transition is stored exactly once.
- Sequence gaps noted by the reducer become real after ``GAP_GRACE_S`` (``check_gaps``); silent
  edges go offline (``mark_silent``); both are called by the consumer's timers.
- No I/O besides the database: the MQTT consumer feeds raw messages in and publishes what
  ``BatchResult`` asks for (snapshot requests, live updates).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Channel, ConfigRow, Edge, Ingested, Seat, SeatEvent, SeatStateRow, Store
from hub.ingest.parse import RawMessage, parse_batch
from hub.ingest.reducer import (
    BatchResult,
    Current,
    EdgeRow,
    Reducer,
    StateRow,
    Writes,
    request_snapshot,
    state_keys,
)
from hub.stats.rollup_db import roll_events
from protocol import EdgeMessage, Event, TopicSpace

log = logging.getLogger("hub.ingest.writer")

GAP_GRACE_S = 3.0  # how long a missing sequence range may take to arrive (another replica's batch)
_CHUNK = 500  # keys per IN (...) list
_MANY = 5000  # parameter sets per executemany call
_EDGE_FIELDS = EdgeRow.__struct_fields__


def _insert(session: AsyncSession, model):
    """Dialect insert with ON CONFLICT support (the same API on PostgreSQL and SQLite), on the
    table: a Core statement, not the ORM's bulk path, which converted every row dict again."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model.__table__)


def _chunks(rows: list, n: int = _CHUNK):
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


# Bulk writes are one statement executed with a list of parameter sets ("executemany"): the
# statement is compiled once and cached, and SQLAlchemy sends the rows in multi-row batches
# (insertmanyvalues). Building a literal multi-row VALUES clause per batch instead (``.values(rows)``)
# cost ~70% of the ingest's time in SQL compilation (profiled with pyinstrument, bench/README.md).


async def insert_ignore(session: AsyncSession, model, rows: list[dict[str, Any]], key: list[str]) -> set[tuple]:
    """Insert rows, skipping those whose ``key`` exists; returns the keys actually inserted."""
    if not rows:
        return set()
    cols = [model.__table__.c[k] for k in key]
    stmt = _insert(session, model).on_conflict_do_nothing(index_elements=key).returning(*cols)
    inserted: set[tuple] = set()
    for chunk in _chunks(rows, _MANY):
        inserted.update(tuple(r) for r in (await session.execute(stmt, chunk)).all())
    return inserted


async def upsert(session: AsyncSession, model, rows: list[dict[str, Any]], key: list[str]) -> None:
    if not rows:
        return
    # A message may name the same key twice (a health with one channel listed twice): the last
    # one wins, as it would row by row; one statement may not update a row twice.
    rows = list({tuple(r[k] for k in key): r for r in rows}.values())
    # executemany needs one column set: rows of one call always share their keys here.
    stmt = _insert(session, model)
    cols = {c: stmt.excluded[c] for c in rows[0] if c not in key}
    stmt = stmt.on_conflict_do_update(index_elements=key, set_=cols) if cols else stmt.on_conflict_do_nothing()
    for chunk in _chunks(rows, _MANY):
        await session.execute(stmt, chunk)


# PostgreSQL: the rows of a whole batch in two statements whatever the number of stores in it,
# keys passed as arrays (unnest), so the SQL text never changes and asyncpg reuses one prepared
# statement. Per store (two SELECTs each) the load was 57 % of write time at 500 stores and the
# ingest rate fell from 4.5k to 0.8k messages/s (issue 21).
_EDGES = Edge.__table__
_PG_EDGES = text(
    "SELECT edges.* FROM edges JOIN unnest(CAST(:stores AS varchar[]), CAST(:edges AS varchar[])) "
    "AS k(store_id, edge_id) ON edges.store_id = k.store_id AND edges.edge_id = k.edge_id",
).columns(*_EDGES.columns)  # typed: the JSON column comes back decoded
# The named seats: whether the layout has them (known) and their state rows; then every state
# row of the edges that died (marked unknown). ``known`` is NULL in the second part.
_PG_SEATS = text("""
SELECT k.store_id, k.seat_id, seats.seat_id IS NOT NULL AS known, st.edge_id, st.state, st.since,
       st.observed_at, st.updated_at, st.resumed
FROM unnest(CAST(:stores AS varchar[]), CAST(:seats AS varchar[])) AS k(store_id, seat_id)
LEFT JOIN seats ON seats.store_id = k.store_id AND seats.seat_id = k.seat_id
LEFT JOIN seat_states st ON st.store_id = k.store_id AND st.seat_id = k.seat_id
UNION ALL
SELECT st.store_id, st.seat_id, NULL, st.edge_id, st.state, st.since, st.observed_at, st.updated_at, st.resumed
FROM seat_states st
JOIN unnest(CAST(:dead_stores AS varchar[]), CAST(:dead_edges AS varchar[])) AS d(store_id, edge_id)
  ON st.store_id = d.store_id AND st.edge_id = d.edge_id
""")


def _edge_row(e) -> EdgeRow:
    """From a Core row of ``edges`` (no ORM objects: building them was most of the per-store
    cost of a batch spanning 500 stores) or an ORM ``Edge``."""
    return EdgeRow(**{f: getattr(e, f) for f in _EDGE_FIELDS})


def _state_dict(r: StateRow) -> dict[str, Any]:
    return {"store_id": r.store_id, "seat_id": r.seat_id, "edge_id": r.edge_id, "state": r.state,
            "since": r.since, "observed_at": r.observed_at, "updated_at": r.updated_at, "resumed": r.resumed}


class _Loaded:
    """The rows one transaction read (``current``, the reducer's input) and their writing back."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.current = Current()

    def add_edges(self, rows) -> None:
        for e in rows:
            self.current.edges[(e.store_id, e.edge_id)] = _edge_row(e)

    async def load(self, msgs: list[EdgeMessage]) -> None:
        pairs = sorted({(m.store_id, m.edge_id) for m in msgs})
        seats, dead = state_keys(msgs)
        if self.s.get_bind().dialect.name == "postgresql":
            await self._load_pg(pairs, seats, dead)
            return
        self.add_edges(await self.s.execute(
            select(_EDGES).where(tuple_(_EDGES.c.store_id, _EDGES.c.edge_id).in_(pairs))))
        await self.load_states(seats, dead)

    async def _load_pg(self, pairs: list[tuple[str, str]], seats: dict[str, set[str]],
                       dead: set[tuple[str, str]]) -> None:
        self.add_edges(await self.s.execute(
            _PG_EDGES, {"stores": [p[0] for p in pairs], "edges": [p[1] for p in pairs]}))
        named = [(sid, seat) for sid, ids in seats.items() for seat in ids]
        cur = self.current
        rows = await self.s.execute(_PG_SEATS, {
            "stores": [k[0] for k in named], "seats": [k[1] for k in named],
            "dead_stores": [k[0] for k in dead], "dead_edges": [k[1] for k in dead]})
        for r in rows:
            if r.known:
                cur.known_seats.add((r.store_id, r.seat_id))
            if r.state is not None:
                cur.states[(r.store_id, r.seat_id)] = StateRow(
                    r.store_id, r.seat_id, r.edge_id, r.state, r.since, r.observed_at, r.updated_at, bool(r.resumed))
        await self.load_layouts(seats)

    async def load_layouts(self, seats: dict[str, set[str]]) -> None:
        """Which stores of the batch have any layout at all (first contact, see the reducer's
        unknown-seat rule); a store with a known named seat has one. One small query per other store."""
        cur = self.current
        with_seat = {k[0] for k in cur.known_seats}
        for sid in seats:
            if sid in with_seat or (await self.s.execute(
                    select(Seat.seat_id).where(Seat.store_id == sid).limit(1))).first() is not None:
                cur.stores_with_layout.add(sid)

    async def load_states(self, seats: dict[str, set[str]], edges: set[tuple[str, str]]) -> None:
        """Current state rows of the named seats and of every seat of the named edges; which of
        the named seats exist (``known_seats``: states of other seat ids are refused). Only the
        rows this batch can touch, not every seat of every store in it."""
        t = SeatStateRow.__table__
        cur = self.current
        chunks = [(sid, chunk) for sid, ids in seats.items() for chunk in _chunks(sorted(ids))]
        for sid, chunk in chunks:
            known = await self.s.execute(select(Seat.store_id, Seat.seat_id).where(
                Seat.store_id == sid, Seat.seat_id.in_(chunk)))
            cur.known_seats.update((r[0], r[1]) for r in known.all())
        await self.load_layouts(seats)
        queries = [select(t).where(t.c.store_id == sid, t.c.seat_id.in_(chunk)) for sid, chunk in chunks]
        queries += [select(t).where(t.c.store_id == sid, t.c.edge_id == eid) for sid, eid in edges]
        for q in queries:
            for r in (await self.s.execute(q)).all():
                cur.states[(r.store_id, r.seat_id)] = StateRow(
                    r.store_id, r.seat_id, r.edge_id, r.state, r.since, r.observed_at, r.updated_at, bool(r.resumed))

    async def store_edges(self, edges: dict[tuple[str, str], EdgeRow]) -> None:
        """New edges inserted; of the others only the columns that changed are updated (another
        replica may have changed the rest meanwhile), one executemany per set of changed columns
        (usually one: last_seen and last_seq)."""
        new: list[dict[str, Any]] = []
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, row in edges.items():
            old = self.current.edges.get(key)
            if old is None:
                new.append({f: getattr(row, f) for f in _EDGE_FIELDS})
                continue
            changed = tuple(f for f in _EDGE_FIELDS if getattr(row, f) != getattr(old, f))
            if changed:
                groups.setdefault(changed, []).append(
                    {"k_store": row.store_id, "k_edge": row.edge_id, **{f"v_{f}": getattr(row, f) for f in changed}})
        if new:
            await self.s.execute(insert(_EDGES), new)
        for cols, rows in groups.items():
            stmt = (update(_EDGES)
                    .where(_EDGES.c.store_id == bindparam("k_store"), _EDGES.c.edge_id == bindparam("k_edge"))
                    .values({c: bindparam(f"v_{c}") for c in cols}))
            await self.s.execute(stmt, rows)

    async def flush(self, w: Writes, now: float) -> None:
        s = self.s
        if w.stores:
            await insert_ignore(s, Store, [{"id": sid, "name": sid, "created_at": now} for sid in w.stores], ["id"])
        await self.store_edges(w.edges)
        for b in w.births:
            if b.seats is not None:
                await upsert(s, Seat, b.seats, ["store_id", "seat_id"])
                # Seats this edge no longer reports are kept for history but marked inactive.
                await s.execute(
                    update(Seat)
                    .where(Seat.store_id == b.store_id, Seat.edge_id == b.edge_id,
                           Seat.seat_id.not_in([r["seat_id"] for r in b.seats]))
                    .values(active=False)
                )
            await upsert(s, Channel, b.channels, ["store_id", "edge_id", "channel"])
        await upsert(s, Channel, w.channels, ["store_id", "edge_id", "channel"])
        for a in w.acks:
            await s.execute(
                update(ConfigRow)
                .where(ConfigRow.store_id == a.store_id, ConfigRow.edge_id == a.edge_id, ConfigRow.version == a.version)
                .values(acked_version=a.version if a.ok else None, ack_error=None if a.ok else (a.error or "rejected"),
                        acked_at=now)
            )
        if w.events:
            new = await insert_ignore(s, SeatEvent, w.events, ["store_id", "edge_id", "boot_id", "seq", "at"])
            # in the same transaction: the rollups never lag the events they are computed from
            await roll_events(s, [e for e in w.events
                                  if (e["store_id"], e["edge_id"], e["boot_id"], e["seq"], e["at"]) in new])
        await upsert(s, SeatStateRow, [_state_dict(r) for r in w.states], ["store_id", "seat_id"])


class IngestWriter:
    """Writes batches of raw MQTT messages; one transaction per batch."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], topics: TopicSpace) -> None:
        self.sessionmaker = sessionmaker
        self.topics = topics
        # (store_id, edge_id, boot_id, first, last missing seq) -> when noticed. store_id too: edge
        # ids are per store, so two stores' "edge-1" with colliding ranges must not share an entry.
        self.pending_gaps: dict[tuple[str, str, str, int, int], float] = {}

    async def write(self, raws: list[RawMessage], now: float | None = None) -> BatchResult:
        now = time.time() if now is None else now
        parsed = parse_batch(raws, self.topics, now)
        result = BatchResult(dropped=parsed.dropped, duplicates=parsed.duplicates, rejected=parsed.rejected)
        if parsed.frames:
            from hub.stores.snapshots import store_frames

            result.dropped += await store_frames(self.sessionmaker, parsed.frames, now)
        msgs = parsed.msgs
        if not msgs:
            return result
        async with self.sessionmaker() as session, session.begin():
            fresh_keys = await insert_ignore(session, Ingested, [{
                "edge_id": m.edge_id, "boot_id": m.boot_id, "seq": m.seq, "store_id": m.store_id,
                "kind": type(m).__struct_config__.tag, "received_at": now,
            } for m in msgs], ["store_id", "edge_id", "boot_id", "seq"])
            fresh = [m for m in msgs if (m.store_id, m.edge_id, m.boot_id, m.seq) in fresh_keys]
            result.duplicates += len(msgs) - len(fresh)
            if fresh:
                loaded = _Loaded(session)
                await loaded.load(fresh)
                r = Reducer(loaded.current, now, result)
                r.apply_all(fresh)
                writes, _ = r.finish()
                await loaded.flush(writes, now)
                for key in result.unsettled:  # looked at again when the edge sends it again
                    await session.execute(delete(Ingested).where(
                        Ingested.store_id == key[0], Ingested.edge_id == key[1], Ingested.boot_id == key[2],
                        Ingested.seq == key[3]))
            result.written = len(fresh)
        unsettled = set(result.unsettled)
        for m in msgs:  # committed: every event of the batch, new or a redelivery, is settled
            if isinstance(m, Event) and (m.store_id, m.edge_id, m.boot_id, m.seq) not in unsettled:
                result.settled_events.setdefault((m.store_id, m.edge_id, m.boot_id), []).append(m.seq)
        for gap in result.gap_ranges:
            self.pending_gaps.setdefault(gap, now)
        return result

    async def check_gaps(self, now: float | None = None, grace_s: float = GAP_GRACE_S) -> BatchResult:
        """Sequence ranges still missing ``grace_s`` after they were noticed are real gaps: ask
        the edge for a snapshot (once; see ``request_snapshot``). Ranges that arrived meanwhile,
        through this replica or another, are forgotten."""
        now = time.time() if now is None else now
        result = BatchResult()
        due = [k for k, noticed in self.pending_gaps.items() if now - noticed >= grace_s]
        if not due:
            return result
        async with self.sessionmaker() as session, session.begin():
            for store_id, edge_id, boot_id, lo, hi in due:
                del self.pending_gaps[(store_id, edge_id, boot_id, lo, hi)]
                have = (await session.execute(
                    select(func.count()).select_from(Ingested).where(
                        Ingested.store_id == store_id, Ingested.edge_id == edge_id, Ingested.boot_id == boot_id,
                        Ingested.seq.between(lo, hi))
                )).scalar_one()
                if have == hi - lo + 1:
                    continue
                e = await session.get(Edge, (store_id, edge_id))
                if e is None or e.boot_id != boot_id:
                    continue  # the edge restarted meanwhile: its birth has the whole picture
                result.gaps += 1
                log.info("gap on %s/%s boot %s: seq %d..%d never arrived", store_id, edge_id, boot_id, lo, hi)
                row = _edge_row(e)
                if (req := request_snapshot(row, now, "gap")) is not None:
                    e.snapshot_requested_at = row.snapshot_requested_at
                    result.snapshot_requests.append(req)
        return result

    async def mark_silent(self, timeout_s: float, now: float | None = None) -> BatchResult:
        """Edges silent for longer than ``timeout_s``: offline, their seats unknown since last seen."""
        now = time.time() if now is None else now
        result = BatchResult()
        async with self.sessionmaker() as session, session.begin():
            silent = (await session.execute(
                select(_EDGES).where(_EDGES.c.online.is_(True), _EDGES.c.last_seen < now - timeout_s)
            )).all()
            if not silent:
                return result
            loaded = _Loaded(session)
            loaded.add_edges(silent)
            await loaded.load_states({}, set(loaded.current.edges))
            r = Reducer(loaded.current, now, result)
            for e in silent:
                log.warning("edge %s/%s silent since %.0f s: offline, seats unknown",
                            e.store_id, e.edge_id, now - e.last_seen)
                r.silent(e.store_id, e.edge_id)
            writes, _ = r.finish()
            await loaded.store_edges(writes.edges)
            await upsert(session, SeatStateRow, [_state_dict(x) for x in writes.states], ["store_id", "seat_id"])
        return result
