"""The edge's SQLite store: one connection, the schema and its versioned migrations.

Everything the box saw lands here first, so a restart, a power cut (with ``synchronous=FULL``)
or a long internet outage loses nothing: the uplink deletes an outbox row only when it is
acknowledged, and the local fallback page reads only from this file. The seat states, events
and config live in ``states.py``, the bounded outbox in ``outbox.py``; ``EdgeStore`` joins them
over this module's connection (they are mixins so that the many callers keep one object).

Threads: one ``sqlite3`` connection (``check_same_thread=False``) guarded by one ``RLock``.
The pipeline thread, the MQTT threads and the local page's request threads all share it;
each call is short, and per-thread connections would leak with ``ThreadingHTTPServer``'s
thread-per-request model. WAL keeps other processes (``seat-edge status``) able to read.

Schema: versioned migrations (sqlite-utils ``Migrations``, recorded in ``_sqlite_migrations``).
Boxes in the field upgrade in place: the first migration is the schema the store had before
migrations existed, written with ``IF NOT EXISTS`` so a database made by that code passes
through it untouched (tested with such a file in ``tests/data/edge-store-v0.sqlite``). New
schema changes are new functions below, never edits of an applied one.

Full disk (SQLITE_FULL, "database or disk is full"): logged once per episode as an error and
the agent keeps running (``_write``). State/event/config writes that fail are logged and skipped;
outbox rows are held in memory (see ``outbox.py``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from edge_agent.storage.outbox import OutboxBounds, OutboxMixin, OutboxRow
from edge_agent.storage.states import StatesMixin, StoredConfig, StoredEvent

__all__ = ["EdgeStore", "OutboxBounds", "OutboxRow", "StoredConfig", "StoredEvent", "MIGRATIONS"]

log = logging.getLogger(__name__)

SQLITE_FULL = 13

MIGRATIONS = Migrations("seat-edge")


@MIGRATIONS(name="0001_initial")
def _m0001_initial(db: sqlite_utils.Database) -> None:
    """The schema as it was before migrations (every box made before has exactly this)."""
    db["seat_state"].create({"seat_id": str, "state": str, "since": float, "updated_at": float},
                            pk="seat_id", if_not_exists=True)
    db["events"].create({"id": int, "seat_id": str, "from_state": str, "to_state": str, "at": float,
                         "evidence": str}, pk="id", if_not_exists=True)
    db["events"].create_index(["at"], if_not_exists=True)
    db["config"].create({"id": int, "version": int, "seats": str, "rules": str, "applied_at": float},
                        pk="id", if_not_exists=True)
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.execute("""
        CREATE TABLE IF NOT EXISTS outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            kind TEXT NOT NULL,
            seat_id TEXT,
            created_at REAL NOT NULL,
            historical INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS outbox_kind_seat ON outbox(kind, seat_id, id)")


@MIGRATIONS(name="0002_outbox_end_to_end")
def _m0002_outbox_end_to_end(db: sqlite_utils.Database) -> None:
    """Events stay in the outbox until the hub confirms them stored (``Stored``), not merely until
    the broker's PUBACK: a row remembers its (boot_id, seq) and when it was last sent."""
    for col, typ in (("boot_id", "TEXT"), ("seq", "INTEGER"), ("sent_at", "REAL")):
        db.execute(f"ALTER TABLE outbox ADD COLUMN {col} {typ}")
    db.execute("CREATE INDEX IF NOT EXISTS outbox_boot_seq ON outbox(boot_id, seq)")


@MIGRATIONS(name="0003_seat_state_resumed")
def _m0003_seat_state_resumed(db: sqlite_utils.Database) -> None:
    """A seat state carried over a restart (``SeatSnapshot.resumed``): the staff page says the
    time before the restart is unknown instead of implying the whole duration (issue 19 point 8)."""
    db.execute("ALTER TABLE seat_state ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0")


def _is_disk_full(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code == SQLITE_FULL or "database or disk is full" in str(exc)


def schema_version(db: sqlite_utils.Database) -> list[str]:
    """Names of the applied migrations, in order (``seat-edge doctor`` and the tests read it)."""
    return [m.name for m in MIGRATIONS.applied(db)]


class EdgeStore(StatesMixin, OutboxMixin):
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
        self._migrate()
        self._disk_full = False
        self._load_outbox_counters()

    # ---- schema / meta ---------------------------------------------------------------------
    def _migrate(self) -> None:
        pending = [m.name for m in MIGRATIONS.pending(self.db)]
        if pending:
            MIGRATIONS.apply(self.db)
            log.info("edge store %s: applied migrations %s", self.path, ", ".join(pending))

    def schema_version(self) -> list[str]:
        with self._lock:
            return schema_version(self.db)

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
