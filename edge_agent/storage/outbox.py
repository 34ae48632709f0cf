"""The bounded outbox: every outgoing MQTT message is written here first and deleted only when
it is acknowledged, so a restart or a long outage loses nothing.

Outbox bound: rows / bytes / age (``OutboxBounds``). When over it, first superseded rows are
collapsed (an older delta of a seat that has a newer queued delta; older births and healths),
never events; only if still over are the oldest non-event rows dropped, each one counted in the
persisted ``dropped`` counter. Events are exempt from dropping: they are small and rare (a few
thousand a day for a big store) and they are what the hub's history is made of.

Full disk: outbox rows go to a bounded in-memory queue, kept in creation order after the disk
rows, until the disk accepts writes again (memory rows are lost if the process dies before they
are acknowledged; when the memory queue is full the oldest non-event row is dropped and counted).

A mixin of ``EdgeStore`` (``db.py``): it shares the store's connection, lock and ``_write``;
``EdgeStore.__init__`` sets up the counters this mixin keeps (``_rows``, ``_bytes``, ``_mem`` ...).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

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


class OutboxMixin:
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _clock: Callable[[], float]
    _write: Callable[[Callable[[], object], str], bool]
    bounds: OutboxBounds
    _mem: deque[OutboxRow]
    _rows: int
    _bytes: int
    _last_id: int
    _dropped: int
    _collapsed: int
    _dropped_unsaved: int
    _next_age_check: float
    _meta_get: Callable[[str], str | None]

    def _load_outbox_counters(self) -> None:
        """Counters from the file (called once by ``EdgeStore.__init__`` after the migrations)."""
        self._mem = deque()  # disk-full fallback, creation order
        row = self._conn.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(max(id), 0) FROM outbox").fetchone()
        self._rows, self._bytes, max_id = int(row[0]), int(row[1]), int(row[2])
        seq = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone()
        self._last_id = max(max_id, int(seq[0]) if seq else 0)
        self._dropped = int(self._meta_get("dropped") or 0)
        self._collapsed = int(self._meta_get("collapsed") or 0)
        self._dropped_unsaved = 0  # drops that happened while the disk was full
        self._next_age_check = 0.0

    def enqueue(self, topic: str, payload: bytes, kind: str, seat_id: str | None = None, *,
                boot_id: str | None = None, seq: int | None = None) -> int:
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
                        "INSERT INTO outbox(id, topic, payload, kind, seat_id, created_at, historical, boot_id, seq) "
                        "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)", (new_id, topic, row.payload, kind, seat_id, now,
                                                                boot_id, seq))

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
        """Queued rows with ``id > after_id`` in id (= creation) order; rows sent and waiting for the
        hub's confirmation (``mark_sent``) are not pending until ``unsend`` makes them so."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, topic, payload, kind, seat_id, created_at, historical FROM outbox "
                "WHERE id > ? AND sent_at IS NULL ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
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

    # ---- end-to-end confirmation (issue 20) -------------------------------------------------
    def mark_sent(self, row_id: int) -> bool:
        """The broker took this row (PUBACK): keep it, waiting for the hub's ``Stored``. False for a
        row held in memory (full disk): that one is removed at its PUBACK as before."""
        now = self._clock()
        with self._lock:
            if any(r.id == row_id for r in self._mem):
                return False
            return self._write(lambda: self._conn.execute(
                "UPDATE outbox SET sent_at=? WHERE id=?", (now, row_id)), "outbox sent mark")

    def confirm(self, boot_id: str, ranges: Iterable[tuple[int, int]]) -> int:
        """The hub stored these events of ``boot_id``: delete them. Returns rows deleted."""
        n = 0
        with self._lock:
            for first, last in ranges:
                n += self._delete_returning(
                    "DELETE FROM outbox WHERE kind='event' AND boot_id=? AND seq BETWEEN ? AND ? "
                    "RETURNING length(payload)", (boot_id, int(first), int(last)))
        return n

    def unsend(self, older_than: float | None = None) -> int:
        """Make sent-but-unconfirmed rows pending again (all, or those sent before ``older_than``),
        flagged historical: they are sent again after the live stream began, and the hub files
        them into history without letting them overwrite a seat's live state."""
        with self._lock:
            cur = None

            def run() -> None:
                nonlocal cur
                if older_than is None:
                    cur = self._conn.execute(
                        "UPDATE outbox SET sent_at=NULL, historical=1 WHERE sent_at IS NOT NULL")
                else:
                    cur = self._conn.execute(
                        "UPDATE outbox SET sent_at=NULL, historical=1 WHERE sent_at IS NOT NULL AND sent_at < ?",
                        (older_than,))

            self._write(run, "outbox resend")
            return cur.rowcount if cur is not None else 0

    def awaiting_confirmation(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0])
