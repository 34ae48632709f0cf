"""Ingest: decode edge messages and write one batch per transaction.

Semantics (see DESIGN.md, "Wire protocol"):
- Redeliveries are dropped by insert-or-ignore on ``ingested`` (edge_id, boot_id, seq); events
  additionally carry a unique key, so a transition is stored exactly once.
- Birth: the edge's full picture; upserts store, edge, channels, seats and states, and resets the
  expected sequence for that boot.
- Sequence gap within a boot, a live message from an unknown boot (birth missed), or a message
  from an edge we had marked offline: one ``SnapshotRequest`` until the next birth.
- Historical (replayed) deltas and events are stored but never overwrite a newer current state:
  each state row keeps ``observed_at`` (edge clock) and only a newer observation replaces it.
  Births and deaths are authoritative and always apply.
- Death, or silence past ``edge_timeout_s``: edge offline, all its seats ``unknown`` since then
  (hub clock: a Last Will's own timestamp is its connect time, so it cannot be trusted).
- No I/O besides the database: the MQTT consumer feeds raw messages in and publishes what
  ``BatchResult`` asks for (snapshot requests, live updates).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Channel, ConfigRow, Edge, Ingested, Seat, SeatEvent, SeatStateRow, Store
from protocol import (
    Birth,
    ConfigAck,
    Death,
    Delta,
    EdgeMessage,
    Event,
    Health,
    ProtocolError,
    SnapshotRequest,
    TopicError,
    TopicSpace,
    decode,
)
from protocol.limits import message_problem, payload_problem
from protocol.messages import Frame
from protocol.topics import HUB_KINDS
from protocol.wire import layout_hash

log = logging.getLogger("hub.ingest.writer")

_EDGE_TYPES = (Birth, Delta, Event, Health, Death, ConfigAck)
SNAPSHOT_RETRY_S = 60.0
GAP_GRACE_S = 3.0  # how long a missing sequence range may take to arrive (another replica's batch)
_CHUNK = 500  # keys per IN (...) list
_MANY = 5000  # parameter sets per executemany call
# A seat's ordering time (observed_at) is never set further ahead of the hub clock than this, so an
# edge clock that jumped forward and back freezes no seat for longer (see issue 10, clock jumps).
FUTURE_SKEW_S = 60.0


class IngestError(ValueError):
    """A message the hub will not accept (malformed, foreign topic, topic/payload mismatch).
    ``reason`` is a short code for the ``seat_hub_rejected_messages`` metric."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    payload: bytes
    received_at: float
    mid: int = 0  # MQTT packet id and QoS: acknowledged to the broker only after the commit
    qos: int = 0


@dataclass
class BatchResult:
    written: int = 0
    duplicates: int = 0
    dropped: int = 0
    gaps: int = 0
    seat_changes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    snapshot_requests: list[SnapshotRequest] = field(default_factory=list)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)  # store_id -> update payload
    # (store_id, edge_id, boot_id, first missing seq, last missing seq) seen in this batch
    gap_ranges: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> messages (or seat changes) refused


def parse_message(raw: RawMessage, topics: TopicSpace) -> EdgeMessage | Frame | None:
    """Topic and payload must agree: store, edge and kind; only edge -> hub kinds are accepted.
    ``None`` for the hub's own messages (config, snapshot requests) that the wildcard also matches
    and for an edge clearing its retained Death (empty payload)."""
    try:
        t = topics.parse(raw.topic)
    except TopicError as exc:
        raise IngestError(str(exc), "topic") from None
    if t.kind in HUB_KINDS:
        return None
    if not raw.payload and t.kind == "death":
        # An edge clears its retained Death with an empty retained payload when it reconnects.
        return None
    if (p := payload_problem(raw.payload)) is not None:
        raise IngestError(p.detail, p.reason)
    try:
        msg = decode(raw.payload, expect=Frame if t.kind == "frame" else _EDGE_TYPES)
    except ProtocolError as exc:
        raise IngestError(str(exc)) from None
    kind = type(msg).__struct_config__.tag
    if (msg.store_id, msg.edge_id, kind) != (t.store_id, t.edge_id, t.kind):
        raise IngestError(
            f"payload says {msg.store_id}/{msg.edge_id}/{kind} but arrived on {t.store_id}/{t.edge_id}/{t.kind}",
            "topic_mismatch",
        )
    return msg


def _insert(session: AsyncSession, table):
    """Dialect insert with ON CONFLICT support (the same API on PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


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
    cols = [getattr(model, k) for k in key]
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


def _state_row(store_id: str, seat_id: str, edge_id: str, state: str, since: float, observed: float, now: float):
    return {
        "store_id": store_id,
        "seat_id": seat_id,
        "edge_id": edge_id,
        "state": state,
        "since": since,
        "observed_at": observed,
        "updated_at": now,
    }


class _Batch:
    """In-memory view of the rows one batch touches; flushed in one transaction."""

    def __init__(self, session: AsyncSession, now: float, result: BatchResult) -> None:
        self.s = session
        self.now = now
        self.result = result
        self.edges: dict[tuple[str, str], Edge] = {}
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.dirty_states: set[tuple[str, str]] = set()
        self.events: list[dict[str, Any]] = []
        self.stores: set[str] = set()
        self.pending_acks: list[ConfigAck] = []
        self.births: list[Birth] = []
        self.healths: list[tuple[Edge, Health]] = []
        # Seats of the stores' layouts (and of births in this batch): deltas and events touch only
        # these, so a hostile delta cannot create thousands of phantom seats.
        self.known_seats: set[tuple[str, str]] = set()

    async def load(self, msgs: list[EdgeMessage]) -> None:
        pairs = {(m.store_id, m.edge_id) for m in msgs}
        self.stores = {m.store_id for m in msgs}
        rows = (await self.s.execute(select(Edge).where(tuple_(Edge.store_id, Edge.edge_id).in_(pairs)))).scalars()
        self.edges = {(e.store_id, e.edge_id): e for e in rows}
        # Only the state rows this batch can touch (not every seat of every store in it): the
        # seats named in deltas, events and births, and all seats of an edge that died.
        seats: dict[str, set[str]] = {}
        dead: set[tuple[str, str]] = set()
        for m in msgs:
            if isinstance(m, Delta):
                seats.setdefault(m.store_id, set()).update(c.seat_id for c in m.changes)
            elif isinstance(m, Event):
                seats.setdefault(m.store_id, set()).add(m.seat_id)
            elif isinstance(m, Birth):
                seats.setdefault(m.store_id, set()).update(st.seat_id for st in m.states)
            elif isinstance(m, Death):
                dead.add((m.store_id, m.edge_id))
        await self.load_states(seats, dead)

    async def load_states(self, seats: dict[str, set[str]], edges: set[tuple[str, str]]) -> None:
        """Current state rows of the named seats and of every seat of the named edges; which of
        the named seats exist (``known_seats``: states of other seat ids are refused)."""
        t = SeatStateRow.__table__
        chunks = [(sid, chunk) for sid, ids in seats.items() for chunk in _chunks(sorted(ids))]
        for sid, chunk in chunks:
            known = await self.s.execute(select(Seat.store_id, Seat.seat_id).where(
                Seat.store_id == sid, Seat.seat_id.in_(chunk)))
            self.known_seats.update((r[0], r[1]) for r in known.all())
        queries = [select(t).where(t.c.store_id == sid, t.c.seat_id.in_(chunk)) for sid, chunk in chunks]
        queries += [select(t).where(t.c.store_id == sid, t.c.edge_id == eid) for sid, eid in edges]
        for q in queries:
            for r in (await self.s.execute(q)).all():
                self.states[(r.store_id, r.seat_id)] = _state_row(
                    r.store_id, r.seat_id, r.edge_id, r.state, r.since, r.observed_at, r.updated_at
                )

    # -- helpers -------------------------------------------------------------------------
    def _live(self, store_id: str) -> dict[str, Any]:
        return self.result.live.setdefault(store_id, {"type": "update", "seats": {}, "edges": {}})

    def set_state(self, store_id: str, seat_id: str, edge_id: str, state: str, since: float, observed: float,
                  force: bool = False) -> None:
        key = (store_id, seat_id)
        observed = min(observed, self.now + FUTURE_SKEW_S)
        cur = self.states.get(key)
        if cur is not None and not force and observed < cur["observed_at"]:
            return  # an older observation (replayed from an outbox) never replaces a newer one
        if cur is not None and cur["state"] == state and cur["since"] == since and cur["edge_id"] == edge_id:
            cur["observed_at"] = max(cur["observed_at"], observed) if not force else observed
            self.dirty_states.add(key)
            return
        self.states[key] = _state_row(store_id, seat_id, edge_id, state, since, observed, self.now)
        self.dirty_states.add(key)
        self.result.seat_changes += 1
        self._live(store_id)["seats"][seat_id] = {"seat_id": seat_id, "state": state, "since": since}

    def edge_live(self, e: Edge) -> None:
        self._live(e.store_id)["edges"][e.edge_id] = {
            "edge_id": e.edge_id, "online": e.online, "last_seen": e.last_seen,
        }

    def request_snapshot(self, e: Edge, reason: str) -> None:
        if e.snapshot_requested_at is not None and self.now - e.snapshot_requested_at < SNAPSHOT_RETRY_S:
            return  # once per gap: the next birth clears it (asked again only if none came)
        e.snapshot_requested_at = self.now
        self.result.snapshot_requests.append(
            SnapshotRequest(store_id=e.store_id, edge_id=e.edge_id, ts=self.now, reason=reason)
        )

    def edge_for(self, m: EdgeMessage) -> Edge:
        key = (m.store_id, m.edge_id)
        e = self.edges.get(key)
        if e is None:
            e = Edge(
                store_id=m.store_id, edge_id=m.edge_id, boot_id="", last_seq=0, last_seen=self.now, online=True,
                offline_since=None, config_version=0, snapshot_requested_at=None, outbox_depth=0, outbox_dropped=0,
            )
            self.s.add(e)
            self.edges[key] = e
        return e

    # -- message kinds -------------------------------------------------------------------
    def apply(self, m: EdgeMessage) -> None:
        e = self.edge_for(m)
        historical = bool(getattr(m, "historical", False))
        was_offline = not e.online
        if not isinstance(m, Death):
            e.last_seen = max(e.last_seen or 0.0, self.now)
        if isinstance(m, Birth):
            self._birth(e, m)
            return
        if isinstance(m, Death):
            self._death(e, m)
            return
        # Sequence bookkeeping for everything else.
        if m.boot_id == e.boot_id:
            if m.seq > e.last_seq + 1:
                # Not yet a gap: with several hub replicas on one shared subscription, the missing
                # messages may be in another replica's batch. IngestWriter.check_gaps decides.
                self.result.gap_ranges.append((m.store_id, m.edge_id, m.boot_id, e.last_seq + 1, m.seq - 1))
            e.last_seq = max(e.last_seq, m.seq)
        elif not historical:
            # A live message of a boot we never saw the birth of: we cannot trust our picture.
            self.request_snapshot(e, "missed_birth")
        if not historical and was_offline:
            e.online, e.offline_since = True, None
            self.edge_live(e)
            self.request_snapshot(e, "offline")  # its seats are unknown until a full snapshot
        if isinstance(m, Delta):
            known = self._known(m, [c.seat_id for c in m.changes])
            for c in m.changes:
                if c.seat_id in known:
                    self.set_state(m.store_id, c.seat_id, m.edge_id, c.state, c.since, max(c.since, m.ts))
        elif isinstance(m, Event):
            self.events.append({
                "store_id": m.store_id, "seat_id": m.seat_id, "edge_id": m.edge_id, "boot_id": m.boot_id,
                "seq": m.seq, "from_state": m.from_state, "to_state": m.to_state, "at": m.at,
                "evidence": msgspec.to_builtins(m.evidence), "historical": m.historical, "received_at": self.now,
            })
            if self._known(m, [m.seat_id]):
                self.set_state(m.store_id, m.seat_id, m.edge_id, m.to_state, m.at, m.at)
        elif isinstance(m, Health):
            self._health(e, m)
        elif isinstance(m, ConfigAck):
            self.pending_acks.append(m)

    def _known(self, m: EdgeMessage, seat_ids: list[str]) -> set[str]:
        """The seat ids of ``seat_ids`` that the store's layout knows; the rest is counted and
        logged once per message."""
        ok = {sid for sid in seat_ids if (m.store_id, sid) in self.known_seats}
        if unknown := [sid for sid in seat_ids if sid not in ok]:
            self.result.rejected["unknown_seat"] = self.result.rejected.get("unknown_seat", 0) + len(unknown)
            log.warning("%s/%s %s seq %d: %d seat(s) not in the store's layout (e.g. %r); their state changes "
                        "are ignored", m.store_id, m.edge_id, type(m).__name__, m.seq, len(unknown), unknown[0])
        return ok

    def _birth(self, e: Edge, m: Birth) -> None:
        if e.boot_id == m.boot_id and m.seq < e.last_seq and e.snapshot_requested_at is None:
            # A stale birth of the current boot delivered late: newer deltas already applied.
            log.info("ignoring stale birth seq %d of %s/%s (at seq %d)", m.seq, m.store_id, m.edge_id, e.last_seq)
            return
        e.boot_id, e.last_seq = m.boot_id, m.seq
        e.snapshot_requested_at = None
        e.online, e.offline_since = True, None
        e.config_version = m.config_version
        e.rules = msgspec.to_builtins(m.rules)
        self.births.append(m)
        self.known_seats.update((m.store_id, sd.seat_id) for sd in m.seats)
        known = self._known(m, [st.seat_id for st in m.states])
        if m.seats or not m.layout_hash:
            e.layout_hash = layout_hash(m.seats)
        elif m.layout_hash != e.layout_hash:
            # The layout by a hash we do not know (first contact, or a layout changed while we
            # missed its full birth): ask for it; states of the seats we know apply meanwhile.
            self.request_snapshot(e, "layout")
        for st in m.states:
            if st.seat_id not in known:
                continue
            self.set_state(m.store_id, st.seat_id, m.edge_id, st.state, st.since, m.ts, force=True)
        self.edge_live(e)

    def _death(self, e: Edge, m: Death) -> None:
        if m.boot_id != e.boot_id and e.boot_id:
            return  # the Last Will of an older session, delivered after the new birth
        e.online, e.offline_since = False, self.now
        self.mark_unknown(e, self.now)
        self.edge_live(e)

    def mark_unknown(self, e: Edge, since: float) -> None:
        for (store_id, seat_id), row in list(self.states.items()):
            if store_id == e.store_id and row["edge_id"] == e.edge_id and row["state"] != "unknown":
                self.set_state(store_id, seat_id, e.edge_id, "unknown", since,
                               max(row["observed_at"], since), force=True)

    def _health(self, e: Edge, m: Health) -> None:
        e.outbox_depth, e.outbox_dropped = m.outbox_depth, m.outbox_dropped
        self.healths.append((e, m))

    # -- write ---------------------------------------------------------------------------
    async def flush(self) -> None:
        s = self.s
        if self.stores:
            await insert_ignore(s, Store, [{"id": sid, "name": sid, "created_at": self.now} for sid in self.stores],
                                ["id"])
        await s.flush()  # new Edge rows
        for b in self.births:
            if b.seats or not b.layout_hash:  # by hash only: the seat rows stand (or were asked for)
                await self._write_seats(b)
            await upsert(s, Channel, [{
                "store_id": b.store_id, "edge_id": b.edge_id, "channel": ch.channel, "name": ch.name,
                "online": True, "fps": 0.0, "reconnects": 0, "updated_at": self.now,
            } for ch in b.channels], ["store_id", "edge_id", "channel"])
        await self._flush_rest()

    async def _write_seats(self, b: Birth) -> None:
        seat_rows = [{
            "store_id": b.store_id, "seat_id": sd.seat_id, "edge_id": b.edge_id, "channel": sd.channel,
            "label": sd.label, "type": sd.type, "polygon": [list(p) for p in sd.polygon], "active": sd.active,
            "desk": None if sd.desk is None else [list(p) for p in sd.desk],
        } for sd in b.seats]
        await upsert(self.s, Seat, seat_rows, ["store_id", "seat_id"])
        # Seats this edge no longer reports are kept for history but marked inactive.
        await self.s.execute(
            update(Seat)
            .where(Seat.store_id == b.store_id, Seat.edge_id == b.edge_id,
                   Seat.seat_id.not_in([sd.seat_id for sd in b.seats]))
            .values(active=False)
        )

    async def _flush_rest(self) -> None:
        s = self.s
        for e, h in self.healths:
            await upsert(s, Channel, [{
                "store_id": e.store_id, "edge_id": e.edge_id, "channel": c.channel, "online": c.online,
                "fps": c.fps, "last_frame_age_s": c.last_frame_age_s, "latency_ms": c.latency_ms,
                "reconnects": c.reconnects, "last_error": c.last_error, "updated_at": self.now,
            } for c in h.channels], ["store_id", "edge_id", "channel"])
            for c in h.channels:
                self._live(e.store_id).setdefault("channels", {})[f"{e.edge_id}/{c.channel}"] = {
                    "edge_id": e.edge_id, "channel": c.channel, "online": c.online, "fps": c.fps,
                }
        for a in self.pending_acks:
            await s.execute(
                update(ConfigRow)
                .where(ConfigRow.store_id == a.store_id, ConfigRow.edge_id == a.edge_id, ConfigRow.version == a.version)
                .values(acked_version=a.version if a.ok else None, ack_error=None if a.ok else (a.error or "rejected"),
                        acked_at=self.now)
            )
            if a.ok:
                e = self.edges[(a.store_id, a.edge_id)]
                e.config_version = max(e.config_version, a.version)
        if self.events:
            await insert_ignore(s, SeatEvent, self.events, ["store_id", "edge_id", "boot_id", "seq"])
        await upsert(s, SeatStateRow, [self.states[k] for k in self.dirty_states], ["store_id", "seat_id"])


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
        result = BatchResult()
        msgs: list[EdgeMessage] = []
        seen: set[tuple[str, str, str, int]] = set()
        frames: list[Frame] = []
        for raw in raws:
            try:
                m = parse_message(raw, self.topics)
            except IngestError as exc:
                log.warning("dropped message on topic %r (%s): %s", raw.topic[:200], exc.reason, exc)
                result.dropped += 1
                result.rejected[exc.reason] = result.rejected.get(exc.reason, 0) + 1
                continue
            if m is None:
                continue
            if (p := message_problem(m, now)) is not None:
                # Checked before the database: a value no column can hold would fail the whole batch.
                log.warning("dropped message on topic %r (%s): %s", raw.topic[:200], p.reason, p.detail)
                result.dropped += 1
                result.rejected[p.reason] = result.rejected.get(p.reason, 0) + 1
                continue
            if isinstance(m, Frame):  # a snapshot answer: not sequenced, stored on its own
                frames.append(m)
                continue
            key = (m.store_id, m.edge_id, m.boot_id, m.seq)  # store_id too: edge ids are per store
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            msgs.append(m)
        if frames:
            from hub.stores.snapshots import store_frames

            result.dropped += await store_frames(self.sessionmaker, frames, now)
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
                batch = _Batch(session, now, result)
                await batch.load(fresh)
                for m in fresh:
                    batch.apply(m)
                    kind = type(m).__struct_config__.tag
                    result.by_kind[kind] = result.by_kind.get(kind, 0) + 1
                await batch.flush()
            result.written = len(fresh)
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
                _Batch(session, now, result).request_snapshot(e, "gap")
        return result

    async def mark_silent(self, timeout_s: float, now: float | None = None) -> BatchResult:
        """Edges silent for longer than ``timeout_s``: offline, their seats unknown since last seen."""
        now = time.time() if now is None else now
        result = BatchResult()
        async with self.sessionmaker() as session, session.begin():
            silent = (await session.execute(
                select(Edge).where(Edge.online.is_(True), Edge.last_seen < now - timeout_s)
            )).scalars().all()
            if not silent:
                return result
            batch = _Batch(session, now, result)
            await batch.load_states({}, {(e.store_id, e.edge_id) for e in silent})
            for e in silent:
                log.warning("edge %s/%s silent since %.0f s: offline, seats unknown",
                            e.store_id, e.edge_id, now - e.last_seen)
                e.online, e.offline_since = False, e.last_seen
                batch.mark_unknown(e, e.last_seen)
                batch.edge_live(e)
            await upsert(session, SeatStateRow, [batch.states[k] for k in batch.dirty_states], ["store_id", "seat_id"])
        return result
