"""Hub fixtures: a running hub app (real broker, real database) and simulated edges."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from hub.app import create_app
from tests.support.hub_auth import admin_client
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.waiting import wait_for


@pytest.fixture
def make_hub(broker):
    """make_hub(db_url, **settings_overrides) -> TestClient with the hub's lifespan running
    (schema migrated, MQTT ingest subscribed), logged in as an admin (``login=False``: anonymous)."""
    clients: list[TestClient] = []

    def make(db_url: str, login: bool = True, **overrides) -> TestClient:
        app = create_app(hub_settings(broker, db_url, **overrides), migrate=True)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub MQTT subscription")
        if login:
            admin_client(client, db_url)
        return client

    yield make
    for c in reversed(clients):
        c.__exit__(None, None, None)


@pytest.fixture
def sim(broker):
    edges: list[SimEdge] = []

    def make(**kw) -> SimEdge:
        e = SimEdge(broker, **kw)
        edges.append(e)
        return e

    yield make
    for e in edges:
        e.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
