"""The edge's SQLite store: seat states, events, the applied config, and the outbox.

Everything the box saw lands here first, so a restart, a power cut (with ``synchronous=FULL``)
or a long internet outage loses nothing: the uplink deletes an outbox row only when the broker
has acknowledged it, and the local fallback page reads only from this file.

Threads: one ``sqlite3`` connection (``check_same_thread=False``) guarded by one ``RLock``.
The pipeline thread, the MQTT threads and the local page's request threads all share it;
each call is short, and per-thread connections would leak with ``ThreadingHTTPServer``'s
thread-per-request model. WAL keeps other processes (``seat-edge status``) able to read.

Outbox bound: rows / bytes / age (``OutboxBounds``). When over it, first superseded rows are
collapsed (an older delta of a seat that has a newer queued delta; older births and healths),
never events; only if still over are the oldest non-event rows dropped, each one counted in the
persisted ``dropped`` counter. Events are exempt from dropping: they are small and rare (a few
thousand a day for a big store) and they are what the hub's history is made of.

Full disk (SQLITE_FULL, "database or disk is full"): logged once per episode as an error and
the agent keeps running. Outbox rows then go to a bounded in-memory queue, kept in creation
order after the disk rows, until the disk accepts writes again (memory rows are lost if the
process dies before the broker acks them; when the memory queue is full the oldest non-event
row is dropped and counted). State/event/config writes that fail are logged and skipped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import msgspec
import sqlite_utils

from edge_agent.types import Transition
from protocol.messages import Evidence, SeatDef, SeatSnapshot, StateRules

log = logging.getLogger(__name__)

SQLITE_FULL = 13
# Kinds where only the newest queued row matters (a newer one carries the whole picture).
_LATEST_WINS_KINDS = ("birth", "health")


@dataclass(frozen=True, slots=True)
class OutboxBounds:
    max_rows: int = 200_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_s: float = 7 * 24 * 3600.0  # non-event rows older than this are dropped (counted)
    memory_rows: int = 10_000  # in-memory queue while the disk is full
    slack: float = 0.9  # once over a bound, trim to this fraction so trimming is not per-row


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    kind: str
    seat_id: str | None
    created_at: float
    historical: bool = False


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    seat_id: str
    from_state: str
    to_state: str
    at: float
    evidence: Evidence


class StoredConfig(NamedTuple):
    version: int
    seats: list[SeatDef]
    rules: StateRules


def _is_disk_full(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code == SQLITE_FULL or "database or disk is full" in str(exc)


_SCHEMA_OUTBOX = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    kind TEXT NOT NULL,
    seat_id TEXT,
    created_at REAL NOT NULL,
    historical INTEGER NOT NULL DEFAULT 0
)
"""


class EdgeStore:
    def __init__(self, path: Path | str, bounds: OutboxBounds = OutboxBounds(), *, synchronous: str = "NORMAL",
                 clock=time.time) -> None:
        """``synchronous='NORMAL'`` in WAL survives process crashes (SIGKILL); use ``'FULL'`` to
        also survive power cuts at the cost of an fsync per write."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.bounds = bounds
        self._clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        self.db = sqlite_utils.Database(self._conn)
        self.db.enable_wal()
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._create_schema()
        self._mem: deque[OutboxRow] = deque()  # disk-full fallback, creation order
        self._disk_full = False
        row = self._conn.execute("SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(max(id), 0) FROM outbox").fetchone()
        self._rows, self._bytes, max_id = int(row[0]), int(row[1]), int(row[2])
        seq = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone()
        self._last_id = max(max_id, int(seq[0]) if seq else 0)
        self._dropped = int(self._meta_get("dropped") or 0)
        self._collapsed = int(self._meta_get("collapsed") or 0)
        self._dropped_unsaved = 0  # drops that happened while the disk was full
        self._next_age_check = 0.0

    # ---- schema / meta ---------------------------------------------------------------------
    def _create_schema(self) -> None:
        db = self.db
        db["seat_state"].create({"seat_id": str, "state": str, "since": float, "updated_at": float},
                                pk="seat_id", if_not_exists=True)
        db["events"].create({"id": int, "seat_id": str, "from_state": str, "to_state": str, "at": float,
                             "evidence": str}, pk="id", if_not_exists=True)
        db["events"].create_index(["at"], if_not_exists=True)
        db["config"].create({"id": int, "version": int, "seats": str, "rules": str, "applied_at": float},
                            pk="id", if_not_exists=True)
        db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        self._conn.execute(_SCHEMA_OUTBOX)
        self._conn.execute("CREATE INDEX IF NOT EXISTS outbox_kind_seat ON outbox(kind, seat_id, id)")

    def _meta_get(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def meta_get(self, key: str) -> str | None:
        with self._lock:
            return self._meta_get(key)

    def meta_set(self, key: str, value: str) -> bool:
        with self._lock:
            return self._write(lambda: self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value)), f"meta {key}")

    def _write(self, fn, what: str) -> bool:
        """Run one write; on a full disk log (once per episode) and return False instead of raising."""
        try:
            fn()
        except sqlite3.OperationalError as exc:
            if not _is_disk_full(exc):
                raise
            if not self._disk_full:
                log.error("edge store %s: disk is full (%s) while writing %s; the agent keeps running, "
                          "outbox messages are held in memory until space returns", self.path, exc, what)
            self._disk_full = True
            return False
        if self._disk_full and not self._mem:
            log.warning("edge store %s: disk accepts writes again", self.path)
            self._disk_full = False
        return True

    @property
    def disk_full(self) -> bool:
        return self._disk_full

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---- seat states -----------------------------------------------------------------------
    def save_states(self, snapshots: Iterable[SeatSnapshot]) -> bool:
        now = self._clock()
        rows = [(s.seat_id, s.state, s.since, now) for s in snapshots]

        def run() -> None:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT INTO seat_state(seat_id, state, since, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(seat_id) DO UPDATE SET state=excluded.state, since=excluded.since, "
                    "updated_at=excluded.updated_at", rows)

        with self._lock:
            return self._write(run, "seat states")

    def load_states(self) -> list[SeatSnapshot]:
        with self._lock:
            rows = self._conn.execute("SELECT seat_id, state, since FROM seat_state ORDER BY seat_id").fetchall()
        return [SeatSnapshot(seat_id=r[0], state=r[1], since=r[2]) for r in rows]

    def state_updated_at(self) -> float | None:
        """When the pipeline last saved states (the page shows how fresh its data is)."""
        with self._lock:
            row = self._conn.execute("SELECT max(updated_at) FROM seat_state").fetchone()
        return row[0] if row else None

    # ---- events ----------------------------------------------------------------------------
    def add_event(self, t: Transition) -> int:
        """Store a transition; returns its id, or -1 when the disk is full (logged)."""
        out: list[int] = []

        def run() -> None:
            cur = self._conn.execute(
                "INSERT INTO events(seat_id, from_state, to_state, at, evidence) VALUES (?, ?, ?, ?, ?)",
                (t.seat_id, t.from_state, t.to_state, t.at, msgspec.json.encode(t.evidence).decode()))
            out.append(int(cur.lastrowid))

        with self._lock:
            return out[0] if self._write(run, "event") else -1

    def events(self, since: float | None = None, limit: int = 100) -> list[StoredEvent]:
        """Newest first; ``since`` keeps events with ``at >= since``."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        sql = "SELECT id, seat_id, from_state, to_state, at, evidence FROM events"
        params: tuple = ()
        if since is not None:
            sql += " WHERE at >= ?"
            params = (since,)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, params + (limit,)).fetchall()
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], msgspec.json.decode(r[5], type=Evidence)) for r in rows]

    # ---- config ----------------------------------------------------------------------------
    def get_config(self) -> StoredConfig | None:
        with self._lock:
            row = self._conn.execute("SELECT version, seats, rules FROM config WHERE id=1").fetchone()
        if row is None:
            return None
        return StoredConfig(int(row[0]), msgspec.json.decode(row[1], type=list[SeatDef]),
                            msgspec.json.decode(row[2], type=StateRules))

    def set_config(self, version: int, seats: list[SeatDef], rules: StateRules) -> bool:
        seats_json = msgspec.json.encode(seats).decode()
        rules_json = msgspec.json.encode(rules).decode()
        now = self._clock()

        def run() -> None:
            self._conn.execute(
                "INSERT INTO config(id, version, seats, rules, applied_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET version=excluded.version, seats=excluded.seats, "
                "rules=excluded.rules, applied_at=excluded.applied_at", (version, seats_json, rules_json, now))

        with self._lock:
            return self._write(run, f"config v{version}")

    # ---- outbox ----------------------------------------------------------------------------
    def enqueue(self, topic: str, payload: bytes, kind: str, seat_id: str | None = None) -> int:
        """Queue one outgoing message; returns its id (ids increase in creation order, also
        across the in-memory fallback)."""
        now = self._clock()
        with self._lock:
            new_id = self._last_id + 1
            row = OutboxRow(new_id, topic, bytes(payload), kind, seat_id, now, False)
            stored = False
            if not self._mem:  # while memory rows wait, new rows queue behind them (order)

                def run() -> None:
                    self._conn.execute(
                        "INSERT INTO outbox(id, topic, payload, kind, seat_id, created_at, historical) "
                        "VALUES (?, ?, ?, ?, ?, ?, 0)", (new_id, topic, row.payload, kind, seat_id, now))

                stored = self._write(run, f"outbox {kind}")
            if stored:
                self._rows += 1
                self._bytes += len(row.payload)
                if self._dropped_unsaved:
                    self._persist_counters()
            else:
                self._mem.append(row)
                if len(self._mem) > self.bounds.memory_rows:
                    self._drop_memory_row()
            self._last_id = new_id
            self._enforce_bounds(now)
            return new_id

    def _drop_memory_row(self) -> None:
        for i, r in enumerate(self._mem):
            if r.kind != "event":
                del self._mem[i]
                self._count_drop(1)
                log.error("outbox memory queue full: dropped %s message %d (dropped total %d)", r.kind, r.id,
                          self._dropped)
                return
        log.error("outbox memory queue holds only events (%d); keeping them", len(self._mem))

    def _count_drop(self, n: int) -> None:
        self._dropped += n
        self._dropped_unsaved += n
        self._persist_counters()

    def _persist_counters(self) -> None:
        def run() -> None:
            self._conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [("dropped", str(self._dropped)), ("collapsed", str(self._collapsed))])

        if self._write(run, "dropped counter"):
            self._dropped_unsaved = 0

    def _over(self, frac: float = 1.0) -> bool:
        b = self.bounds
        return self._rows > b.max_rows * frac or self._bytes > b.max_bytes * frac

    def _delete_returning(self, sql: str, params: tuple = ()) -> int:
        """Run a DELETE ... RETURNING length(payload); keep the counters right; return rows deleted."""
        out: list[int] = []

        def run() -> None:
            out.extend(r[0] for r in self._conn.execute(sql, params).fetchall())

        if not self._write(run, "outbox trim"):
            return 0
        self._rows -= len(out)
        self._bytes -= sum(out)
        return len(out)

    def _enforce_bounds(self, now: float) -> None:
        if now >= self._next_age_check:
            self._next_age_check = now + 60.0
            n = self._delete_returning(
                "DELETE FROM outbox WHERE kind != 'event' AND created_at < ? RETURNING length(payload)",
                (now - self.bounds.max_age_s,))
            if n:
                self._count_drop(n)
                log.warning("outbox: dropped %d non-event messages older than %.0f s (dropped total %d)", n,
                            self.bounds.max_age_s, self._dropped)
        if not self._over():
            return
        n = self.collapse()
        target = self.bounds.slack
        dropped = 0
        while self._over(target):
            # Delete about as many rows as the excess (rows, or bytes / average row size).
            avg = max(1, self._bytes // max(1, self._rows))
            excess = max(self._rows - int(self.bounds.max_rows * target),
                         -(-(self._bytes - int(self.bounds.max_bytes * target)) // avg), 1)
            n_del = self._delete_returning(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind != 'event' ORDER BY id LIMIT ?) "
                "RETURNING length(payload)", (excess,))
            if n_del == 0:
                break  # only events left: they are kept (see module doc)
            dropped += n_del
        if dropped:
            self._count_drop(dropped)
            log.error("outbox over its bound: dropped the %d oldest non-event messages (dropped total %d)",
                      dropped, self._dropped)
        if self._over():
            log.warning("outbox holds %d rows / %d bytes, over its bound, and only events are left: keeping them",
                        self._rows, self._bytes)
        elif n:
            log.info("outbox over its bound: collapsed %d superseded messages", n)

    def collapse(self) -> int:
        """Delete superseded rows: a seat's delta with a newer queued delta of the same seat, and
        every birth/health but the newest. Events are never touched. Returns rows deleted."""
        with self._lock:
            n = self._delete_returning(
                "DELETE FROM outbox WHERE kind='delta' AND seat_id IS NOT NULL AND EXISTS ("
                " SELECT 1 FROM outbox n WHERE n.kind='delta' AND n.seat_id=outbox.seat_id AND n.id > outbox.id)"
                " RETURNING length(payload)")
            for kind in _LATEST_WINS_KINDS:
                n += self._delete_returning(
                    "DELETE FROM outbox WHERE kind=? AND id < (SELECT max(id) FROM outbox WHERE kind=?) "
                    "RETURNING length(payload)", (kind, kind))
            if n:
                self._collapsed += n
                self._persist_counters()
            return n

    def pending(self, limit: int = 100, after_id: int = 0) -> list[OutboxRow]:
        """Queued rows with ``id > after_id`` in id (= creation) order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, topic, payload, kind, seat_id, created_at, historical FROM outbox "
                "WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
            disk = [OutboxRow(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], bool(r[6])) for r in rows]
            mem = [r for r in self._mem if r.id > after_id]
        if not mem:
            return disk
        return sorted(disk + mem, key=lambda r: r.id)[:limit]

    def remove(self, row_id: int) -> bool:
        """Delete an acknowledged row; False if it was already gone (e.g. collapsed)."""
        with self._lock:
            for i, r in enumerate(self._mem):
                if r.id == row_id:
                    del self._mem[i]
                    return True
            return self._delete_returning("DELETE FROM outbox WHERE id=? RETURNING length(payload)", (row_id,)) == 1

    def remove_kinds(self, kinds: Iterable[str]) -> int:
        """Delete every queued row of these kinds (e.g. births/deaths a new session supersedes)."""
        ks = tuple(kinds)
        with self._lock:
            before = len(self._mem)
            self._mem = deque(r for r in self._mem if r.kind not in ks)
            n = before - len(self._mem)
            marks = ",".join("?" * len(ks))
            return n + self._delete_returning(
                f"DELETE FROM outbox WHERE kind IN ({marks}) RETURNING length(payload)", ks)

    def mark_historical(self, kinds: Iterable[str] = ("delta", "event")) -> int:
        """Flag every queued row of these kinds as historical (created before this session)."""
        ks = tuple(kinds)
        with self._lock:
            self._mem = deque(OutboxRow(r.id, r.topic, r.payload, r.kind, r.seat_id, r.created_at,
                                        r.historical or r.kind in ks) for r in self._mem)
            marks = ",".join("?" * len(ks))
            cur = None

            def run() -> None:
                nonlocal cur
                cur = self._conn.execute(
                    f"UPDATE outbox SET historical=1 WHERE historical=0 AND kind IN ({marks})", ks)

            self._write(run, "historical flags")
            return cur.rowcount if cur is not None else 0

    def depth(self) -> int:
        with self._lock:
            return self._rows + len(self._mem)

    def depth_bytes(self) -> int:
        with self._lock:
            return self._bytes + sum(len(r.payload) for r in self._mem)

    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    def collapsed(self) -> int:
        with self._lock:
            return self._collapsed
