"""Seat states, seat events and the applied config: the part of the edge store the local page
and a restarted agent read back (the outbox is in ``outbox.py``, the connection in ``db.py``).

A mixin of ``EdgeStore``: it uses the store's one connection (``self._conn``), its lock
(``self._lock``) and its full-disk aware ``self._write`` (a write that fails for a full disk is
logged once and skipped; the agent keeps running).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import msgspec

from edge_agent.types import Transition
from protocol.messages import Evidence, SeatDef, SeatSnapshot, StateRules


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


class StatesMixin:
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _clock: Callable[[], float]
    _write: Callable[[Callable[[], object], str], bool]

    # ---- seat states -----------------------------------------------------------------------
    def save_states(self, snapshots: Iterable[SeatSnapshot]) -> bool:
        now = self._clock()
        rows = [(s.seat_id, s.state, s.since, now, int(s.resumed)) for s in snapshots]

        def run() -> None:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT INTO seat_state(seat_id, state, since, updated_at, resumed) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(seat_id) DO UPDATE SET state=excluded.state, since=excluded.since, "
                    "updated_at=excluded.updated_at, resumed=excluded.resumed", rows)

        with self._lock:
            return self._write(run, "seat states")

    def load_states(self) -> list[SeatSnapshot]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seat_id, state, since, resumed FROM seat_state ORDER BY seat_id").fetchall()
        return [SeatSnapshot(seat_id=r[0], state=r[1], since=r[2], resumed=bool(r[3])) for r in rows]

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
