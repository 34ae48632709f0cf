"""The edge database upgrades in place: a file made by the code before versioned migrations
(``tests/data/edge-store-v0.sqlite``, written by ``EdgeStore`` at commit bd2178a with two seat
states, one event, config v3, the page secret and an outbox with one collapsed delta) opens with
the migrating store, keeps every row and counter, and is recorded at the current version."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from edge_agent.storage.db import MIGRATIONS, EdgeStore

NOW = 1_700_000_000.0
V0 = Path(__file__).resolve().parents[1] / "data" / "edge-store-v0.sqlite"


def test_a_pre_migration_database_upgrades_and_keeps_everything(tmp_path):
    path = tmp_path / "edge.db"
    shutil.copy(V0, path)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT name FROM sqlite_master WHERE name='_sqlite_migrations'").fetchone() is None
    raw.close()

    store = EdgeStore(path, clock=lambda: NOW)  # the file's own time: no age-based outbox trimming
    assert store.schema_version() == [m.name for m in MIGRATIONS._migrations]
    assert [(s.seat_id, s.state, s.since) for s in store.load_states()] == [
        ("A1", "occupied", 1_699_999_000.0), ("A2", "empty", 1_699_999_500.0)]
    ev = store.events()
    assert [(e.seat_id, e.from_state, e.to_state, e.at) for e in ev] == [("A1", "empty", "occupied", 1_699_999_000.0)]
    cfg = store.get_config()
    assert cfg is not None and cfg.version == 3 and [s.seat_id for s in cfg.seats] == ["A1", "A2"]
    assert store.meta_get("local_ui_secret") == "ab" * 32
    assert [(r.kind, r.payload) for r in store.pending()] == [("event", b"\x81\xa1k\xa5event"),
                                                             ("delta", b"\x81\xa1k\xa5delta")]
    assert store.collapsed() == 1
    # ids keep growing past the old rows, the collapsed one included (AUTOINCREMENT sequence kept).
    assert store.enqueue("t", b"x", "event") == 4
    store.close()

    # A second open applies nothing and changes nothing.
    again = EdgeStore(path, clock=lambda: NOW)
    assert again.schema_version() == [m.name for m in MIGRATIONS._migrations]
    assert again.depth() == 3
    assert len(MIGRATIONS.applied(again.db)) == len(MIGRATIONS._migrations)  # nothing recorded twice
    again.close()


def test_a_new_database_is_created_at_the_current_version(tmp_path):
    store = EdgeStore(tmp_path / "new.db")
    assert store.schema_version() == [m.name for m in MIGRATIONS._migrations]
    assert store.depth() == 0 and store.load_states() == [] and store.get_config() is None
    store.close()
