"""The ingest's decisions, pure: edge messages + the current rows they touch in, rows to write +
live messages + what to ask the edges out. No database, no I/O (logging aside); the writer
(:mod:`hub.ingest.writer`) loads the ``Current`` rows and stores the ``Writes``.

Semantics (see DESIGN.md, "Wire protocol"):
- Birth: the edge's full picture; store, edge, channels, seats and states, and the expected
  sequence for that boot starts again.
- Sequence gap within a boot: noted (``gap_ranges``); the writer decides after a grace time
  whether it is real (another replica's batch may hold the missing messages). A live message from
  an unknown boot (birth missed), or from an edge marked offline: one ``SnapshotRequest`` until
  the next birth.
- Historical (replayed) deltas and events never overwrite a newer current state: each state row
  keeps ``observed_at`` (edge clock) and only a newer observation replaces it. Births and deaths
  are authoritative and always apply.
- Death, or silence past ``edge_timeout_s``: edge offline, all its seats ``unknown`` since then
  (hub clock: a Last Will's own timestamp is its connect time, so it cannot be trusted).
- Deltas and events touch only the seats of the store's layout (``known_seats``; an event of another
  seat is not stored at all), so a hostile delta cannot create thousands of phantom seats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from protocol import Birth, ConfigAck, Death, Delta, EdgeMessage, Event, Health, SnapshotRequest
from protocol.live import LiveChannel, LiveEdge, LiveSeat, Update
from protocol.wire import layout_hash

log = logging.getLogger("hub.ingest.writer")

SNAPSHOT_RETRY_S = 60.0
# A seat's ordering time (observed_at) is never set further ahead of the hub clock than this, so an
# edge clock that jumped forward and back freezes no seat for longer (see issue 10, clock jumps).
FUTURE_SKEW_S = 60.0

Key = tuple[str, str]


class EdgeRow(msgspec.Struct):
    """One row of ``edges`` (hub.db.models.Edge), as the reducer sees and changes it."""

    store_id: str
    edge_id: str
    boot_id: str = ""
    last_seq: int = 0
    last_seen: float = 0.0
    online: bool = True
    offline_since: float | None = None
    config_version: int = 0
    snapshot_requested_at: float | None = None
    outbox_depth: int = 0
    outbox_dropped: int = 0
    rules: dict[str, Any] | None = None
    layout_hash: str = ""


class StateRow(msgspec.Struct):
    """One row of ``seat_states``."""

    store_id: str
    seat_id: str
    edge_id: str
    state: str
    since: float
    observed_at: float
    updated_at: float
    resumed: bool = False  # since = the edge's restart; the time before is unknown


@dataclass
class Current:
    """The rows a batch can touch, as they are in the database before it."""

    edges: dict[Key, EdgeRow] = field(default_factory=dict)
    states: dict[Key, StateRow] = field(default_factory=dict)  # (store_id, seat_id)
    known_seats: set[Key] = field(default_factory=set)  # seats of the stores' layouts
    stores_with_layout: set[str] = field(default_factory=set)  # stores of the batch that have any seat


@dataclass
class BirthWrite:
    """Seat and channel rows of one birth. ``seats`` is None for a birth by layout hash only:
    the stored seat rows stand (or were asked for)."""

    store_id: str
    edge_id: str
    seats: list[dict[str, Any]] | None
    channels: list[dict[str, Any]]


@dataclass
class Writes:
    stores: list[str] = field(default_factory=list)
    edges: dict[Key, EdgeRow] = field(default_factory=dict)  # every edge the batch touched
    births: list[BirthWrite] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)  # channel health rows
    acks: list[ConfigAck] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[StateRow] = field(default_factory=list)  # changed state rows


@dataclass
class BatchResult:
    written: int = 0
    duplicates: int = 0
    dropped: int = 0
    gaps: int = 0
    seat_changes: int = 0
    seat_changes_by_store: dict[str, int] = field(default_factory=dict)  # per-store rate in /metrics
    by_kind: dict[str, int] = field(default_factory=dict)
    snapshot_requests: list[SnapshotRequest] = field(default_factory=list)
    live: list[Update] = field(default_factory=list)  # one per store with changes
    # (store_id, edge_id, boot_id, first missing seq, last missing seq) seen in this batch
    gap_ranges: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> messages (or seat changes) refused
    # events this batch settled for good (stored, duplicates, or not stored for an unknown seat):
    # (store_id, edge_id, boot_id) -> seqs, confirmed to the edge after the commit (``Stored``)
    settled_events: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    # events refused for a seat the layout lacks: not confirmed, and their dedupe entry is removed,
    # so the edge's resend is looked at again (the birth naming the seat may be on another replica)
    unsettled: list[tuple[str, str, str, int]] = field(default_factory=list)


@dataclass
class _LiveStore:
    seats: dict[str, LiveSeat] = field(default_factory=dict)
    edges: dict[str, LiveEdge] = field(default_factory=dict)
    channels: dict[tuple[str, int], LiveChannel] = field(default_factory=dict)


def request_snapshot(e: EdgeRow, now: float, reason: str) -> SnapshotRequest | None:
    """Ask once per gap: the next birth clears ``snapshot_requested_at`` (asked again only if
    none came within ``SNAPSHOT_RETRY_S``). Sets it on ``e``."""
    if e.snapshot_requested_at is not None and now - e.snapshot_requested_at < SNAPSHOT_RETRY_S:
        return None
    e.snapshot_requested_at = now
    return SnapshotRequest(store_id=e.store_id, edge_id=e.edge_id, ts=now, reason=reason)


class Reducer:
    """One batch's decisions. ``Current`` is copied, never changed; read ``writes`` and ``result``
    after ``apply``/``mark_unknown`` (``finish`` builds the live messages)."""

    def __init__(self, current: Current, now: float, result: BatchResult | None = None) -> None:
        self.now = now
        self.result = result if result is not None else BatchResult()
        self.writes = Writes()
        self._edges_in = current.edges
        self.edges: dict[Key, EdgeRow] = {}  # copies of the edges touched
        self.states = dict(current.states)  # rows are replaced, never changed in place
        self.known_seats = set(current.known_seats)
        self.stores_with_layout = set(current.stores_with_layout) | {st for st, _ in current.known_seats}
        self._dirty: dict[Key, None] = {}  # state rows to write, in order
        self._live: dict[str, _LiveStore] = {}
        self._stores: dict[str, None] = {}

    # -- rows ----------------------------------------------------------------------------
    def edge(self, store_id: str, edge_id: str) -> EdgeRow:
        key = (store_id, edge_id)
        e = self.edges.get(key)
        if e is None:
            cur = self._edges_in.get(key)
            if cur is None:
                e = EdgeRow(store_id, edge_id, last_seen=self.now)
            else:
                e = msgspec.structs.replace(cur)
            self.edges[key] = e
        return e

    def set_state(self, store_id: str, seat_id: str, edge_id: str, state: str, since: float, observed: float,
                  force: bool = False, resumed: bool = False) -> None:
        key = (store_id, seat_id)
        observed = min(observed, self.now + FUTURE_SKEW_S)
        cur = self.states.get(key)
        if cur is not None and not force and observed < cur.observed_at:
            return  # an older observation (replayed from an outbox) never replaces a newer one
        if (cur is not None and cur.state == state and cur.since == since and cur.edge_id == edge_id
                and cur.resumed == resumed):
            seen = max(cur.observed_at, observed) if not force else observed
            self.states[key] = msgspec.structs.replace(cur, observed_at=seen)
            self._dirty[key] = None
            return
        self.states[key] = StateRow(store_id, seat_id, edge_id, state, since, observed, self.now, resumed)
        self._dirty[key] = None
        self.result.seat_changes += 1
        by_store = self.result.seat_changes_by_store
        by_store[store_id] = by_store.get(store_id, 0) + 1
        self._store_live(store_id).seats[seat_id] = LiveSeat(seat_id, state, since, resumed)  # type: ignore[arg-type]

    def _store_live(self, store_id: str) -> _LiveStore:
        live = self._live.get(store_id)
        if live is None:
            live = self._live[store_id] = _LiveStore()
        return live

    def edge_live(self, e: EdgeRow) -> None:
        self._store_live(e.store_id).edges[e.edge_id] = LiveEdge(e.edge_id, e.online, e.last_seen)

    def snapshot(self, e: EdgeRow, reason: str) -> None:
        req = request_snapshot(e, self.now, reason)
        if req is not None:
            self.result.snapshot_requests.append(req)

    # -- message kinds -------------------------------------------------------------------
    def apply_all(self, msgs: Iterable[EdgeMessage]) -> None:
        by_kind = self.result.by_kind
        for m in msgs:
            self.apply(m)
            kind = type(m).__struct_config__.tag
            by_kind[kind] = by_kind.get(kind, 0) + 1

    def apply(self, m: EdgeMessage) -> None:
        self._stores[m.store_id] = None
        e = self.edge(m.store_id, m.edge_id)
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
            self.snapshot(e, "missed_birth")
        if not historical and was_offline:
            e.online, e.offline_since = True, None
            self.edge_live(e)
            self.snapshot(e, "offline")  # its seats are unknown until a full snapshot
        if isinstance(m, Delta):
            known = self._known(m, [c.seat_id for c in m.changes])
            for c in m.changes:
                if c.seat_id in known:
                    self.set_state(m.store_id, c.seat_id, m.edge_id, c.state, c.since, max(c.since, m.ts),
                                   resumed=c.resumed)
        elif isinstance(m, Event):
            # An event of a seat the layout does not have is not stored either (counted as
            # unknown_seat, logged): otherwise an edge could add seats, `=HYPERLINK(...)` say, to
            # the store's history, statistics and exports just by naming them. Two exceptions keep
            # real events: a store with no layout yet (first contact: its birth may be committing
            # on another replica) is filed into history without a state; and a refused event is
            # left unconfirmed (``unsettled``), so an edge that confirms end to end sends it again.
            known_seat = (m.store_id, m.seat_id) in self.known_seats
            if not known_seat and m.store_id in self.stores_with_layout:
                self._known(m, [m.seat_id])  # counts and logs it
                self.result.unsettled.append((m.store_id, m.edge_id, m.boot_id, m.seq))
            else:
                self.writes.events.append({
                    "store_id": m.store_id, "seat_id": m.seat_id, "edge_id": m.edge_id, "boot_id": m.boot_id,
                    "seq": m.seq, "from_state": m.from_state, "to_state": m.to_state, "at": m.at,
                    "evidence": msgspec.to_builtins(m.evidence), "historical": m.historical,
                    "received_at": self.now,
                })
                if known_seat:
                    self.set_state(m.store_id, m.seat_id, m.edge_id, m.to_state, m.at, m.at)
        elif isinstance(m, Health):
            self._health(e, m)
        elif isinstance(m, ConfigAck):
            self.writes.acks.append(m)

    def _known(self, m: EdgeMessage, seat_ids: list[str]) -> set[str]:
        """The seat ids of ``seat_ids`` that the store's layout knows; the rest is counted and
        logged once per message."""
        ok = {sid for sid in seat_ids if (m.store_id, sid) in self.known_seats}
        if unknown := [sid for sid in seat_ids if sid not in ok]:
            self.result.rejected["unknown_seat"] = self.result.rejected.get("unknown_seat", 0) + len(unknown)
            log.warning("%s/%s %s seq %d: %d seat(s) not in the store's layout (e.g. %r); their state changes "
                        "are ignored", m.store_id, m.edge_id, type(m).__name__, m.seq, len(unknown), unknown[0])
        return ok

    def _birth(self, e: EdgeRow, m: Birth) -> None:
        if e.boot_id == m.boot_id and m.seq < e.last_seq and e.snapshot_requested_at is None:
            # A stale birth of the current boot delivered late: newer deltas already applied.
            log.info("ignoring stale birth seq %d of %s/%s (at seq %d)", m.seq, m.store_id, m.edge_id, e.last_seq)
            return
        e.boot_id, e.last_seq = m.boot_id, m.seq
        e.snapshot_requested_at = None
        e.online, e.offline_since = True, None
        e.config_version = m.config_version
        e.rules = msgspec.to_builtins(m.rules)
        full = bool(m.seats) or not m.layout_hash
        self.writes.births.append(BirthWrite(
            m.store_id, m.edge_id,
            seats=[{
                "store_id": m.store_id, "seat_id": sd.seat_id, "edge_id": m.edge_id, "channel": sd.channel,
                "label": sd.label, "type": sd.type, "polygon": [list(p) for p in sd.polygon], "active": sd.active,
                "desk": None if sd.desk is None else [list(p) for p in sd.desk],
            } for sd in m.seats] if full else None,
            channels=[{
                "store_id": m.store_id, "edge_id": m.edge_id, "channel": ch.channel, "name": ch.name,
                "online": True, "fps": 0.0, "reconnects": 0, "updated_at": self.now,
            } for ch in m.channels],
        ))
        self.known_seats.update((m.store_id, sd.seat_id) for sd in m.seats)
        if m.seats:
            self.stores_with_layout.add(m.store_id)
        known = self._known(m, [st.seat_id for st in m.states])
        if full:
            e.layout_hash = layout_hash(m.seats)
        elif m.layout_hash != e.layout_hash:
            # The layout by a hash we do not know (first contact, or a layout changed while we
            # missed its full birth): ask for it; states of the seats we know apply meanwhile.
            self.snapshot(e, "layout")
        for st in m.states:
            if st.seat_id in known:
                self.set_state(m.store_id, st.seat_id, m.edge_id, st.state, st.since, m.ts, force=True,
                               resumed=st.resumed)
        self.edge_live(e)

    def _death(self, e: EdgeRow, m: Death) -> None:
        if m.boot_id != e.boot_id and e.boot_id:
            return  # the Last Will of an older session, delivered after the new birth
        e.online, e.offline_since = False, self.now
        self.mark_unknown(e, self.now)
        self.edge_live(e)

    def mark_unknown(self, e: EdgeRow, since: float) -> None:
        """Every loaded seat of this edge: unknown since ``since`` (death or silence)."""
        for (store_id, seat_id), row in list(self.states.items()):
            if store_id == e.store_id and row.edge_id == e.edge_id and row.state != "unknown":
                self.set_state(store_id, seat_id, e.edge_id, "unknown", since, max(row.observed_at, since), force=True)

    def silent(self, store_id: str, edge_id: str) -> None:
        """The edge said nothing for too long: offline since it was last seen, its seats unknown."""
        e = self.edge(store_id, edge_id)
        e.online, e.offline_since = False, e.last_seen
        self.mark_unknown(e, e.last_seen)
        self.edge_live(e)

    def _health(self, e: EdgeRow, m: Health) -> None:
        e.outbox_depth, e.outbox_dropped = m.outbox_depth, m.outbox_dropped
        live = self._store_live(e.store_id)
        for c in m.channels:
            self.writes.channels.append({
                "store_id": e.store_id, "edge_id": e.edge_id, "channel": c.channel, "online": c.online,
                "fps": c.fps, "last_frame_age_s": c.last_frame_age_s, "latency_ms": c.latency_ms,
                "reconnects": c.reconnects, "last_error": c.last_error, "updated_at": self.now,
                "drift": c.drift, "camera_moved": c.camera_moved,
            })
            live.channels[(e.edge_id, c.channel)] = LiveChannel(e.edge_id, c.channel, c.online, c.fps)

    # -- out -------------------------------------------------------------------------------
    def finish(self) -> tuple[Writes, BatchResult]:
        """The rows to write and the result (live messages built here, one per store)."""
        w = self.writes
        for a in w.acks:
            if a.ok and (e := self.edges.get((a.store_id, a.edge_id))) is not None:
                e.config_version = max(e.config_version, a.version)
        w.stores = list(self._stores)
        w.edges = self.edges
        w.states = [self.states[k] for k in self._dirty]
        self.result.live = [
            Update(store_id=sid, seats=list(lv.seats.values()), edges=list(lv.edges.values()),
                   channels=list(lv.channels.values()))
            for sid, lv in self._live.items()
        ]
        return w, self.result


def reduce_batch(msgs: list[EdgeMessage], current: Current, now: float,
                 result: BatchResult | None = None) -> tuple[Writes, BatchResult]:
    """Messages (deduplicated, in arrival order) + current rows -> rows to write + result."""
    r = Reducer(current, now, result)
    r.apply_all(msgs)
    return r.finish()


def state_keys(msgs: list[EdgeMessage]) -> tuple[dict[str, set[str]], set[Key]]:
    """Which current rows a batch needs: the seats named in deltas, events and births (per store),
    and the edges that died (all their seats)."""
    seats: dict[str, set[str]] = {}
    dead: set[Key] = set()
    for m in msgs:
        if isinstance(m, Delta):
            seats.setdefault(m.store_id, set()).update(c.seat_id for c in m.changes)
        elif isinstance(m, Event):
            seats.setdefault(m.store_id, set()).add(m.seat_id)
        elif isinstance(m, Birth):
            seats.setdefault(m.store_id, set()).update(st.seat_id for st in m.states)
        elif isinstance(m, Death):
            dead.add((m.store_id, m.edge_id))
    return seats, dead
