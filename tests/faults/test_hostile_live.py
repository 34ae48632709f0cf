"""Issue 20, item 7: an open live WebSocket is not a key that outlives the rights it was opened
with (real hub app, real broker, SQLite; the hub re-checks every 0.5 s here, 5 s by default).

Before: after logout, and after the user was moved to another store, the socket kept receiving
that store's updates (3 of 3).
"""

from __future__ import annotations

import time

import pytest
from litestar.exceptions import WebSocketDisconnect
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.settings import AuthSettings
from tests.support.hub_auth import create_user, login
from tests.support.waiting import wait_for


def _next_update_or_close(ws, edge, seat: str, to: str) -> str:
    """Send a seat change and report what the socket gets: 'update' or 'closed'."""
    edge.delta({seat: to})
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline:
            msg = ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
            if msg.get("type") == "update":
                return "update"
    except WebSocketDisconnect:
        return "closed"
    return "nothing"


@pytest.fixture
def setup(make_hub, sqlite_url, sim, tmp_path):
    hub = make_hub(sqlite_url, login=False, auth=AuthSettings(ws_recheck_s=0.5))
    edge = sim()
    edge.birth()
    wait_for(lambda: hub.app.state.writer is not None and _store_exists(sqlite_url), what="store-a registered")
    other = sim(store_id="store-b")
    other.birth()
    wait_for(lambda: _store_exists(sqlite_url, "store-b"), what="store-b registered")
    create_user(sqlite_url, "alice", "staff", ["store-a"])
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "{sqlite_url}"\n')
    return hub, edge, cfg


def _store_exists(url: str, store: str = "store-a") -> bool:
    import sqlite3

    path = url.split(":///", 1)[1]
    try:
        with sqlite3.connect(path) as c:
            return c.execute("SELECT 1 FROM stores WHERE id=?", (store,)).fetchone() is not None
    except sqlite3.Error:
        return False


def test_logout_closes_the_open_socket(setup):
    hub, edge, _ = setup
    login(hub, "alice")
    with hub.websocket_connect("/ws/stores/store-a") as ws:
        assert ws.receive_json(timeout=5)["type"] == "hello"
        assert _next_update_or_close(ws, edge, "s0", "occupied") == "update"  # it works while logged in
        assert hub.post("/logout", follow_redirects=False).status_code == 303
        assert _next_update_or_close(ws, edge, "s0", "empty") == "closed"


def test_a_move_to_another_store_closes_the_open_socket(setup):
    hub, edge, cfg = setup
    login(hub, "alice")
    with hub.websocket_connect("/ws/stores/store-a") as ws:
        assert ws.receive_json(timeout=5)["type"] == "hello"
        assert _next_update_or_close(ws, edge, "s1", "occupied") == "update"
        r = CliRunner().invoke(cli, ["user", "set-role", "alice", "staff", "--store", "store-b",
                                     "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        time.sleep(0.6)  # another process changed the rights: the socket finds out at its next re-check
        assert _next_update_or_close(ws, edge, "s1", "empty") == "closed"
