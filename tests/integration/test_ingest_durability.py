"""Ingest loses nothing when PostgreSQL goes away or the hub stops before committing.

Real PostgreSQL (connections to the test database switched off and on with ALTER DATABASE ...
ALLOW_CONNECTIONS), real Mosquitto, the real hub app. Messages are acknowledged to the broker only
after their batch is committed.
"""

from __future__ import annotations

import time
import uuid

from litestar.testing import TestClient

from hub.app import create_app
from hub.settings import MqttSettings
from tests.support.hub_auth import admin_client, login
from tests.support.hub_harness import hub_settings
from tests.support.services import _pg_admin_exec
from tests.support.waiting import wait_for


def _db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def block_connections(url: str) -> None:
    name = _db_name(url)
    _pg_admin_exec(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    _pg_admin_exec(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


def allow_connections(url: str) -> None:
    _pg_admin_exec(f'ALTER DATABASE "{_db_name(url)}" ALLOW_CONNECTIONS true')


def event_count(client: TestClient, store: str = "store-a") -> int:
    r = client.get(f"/api/v1/stores/{store}/events", params={"limit": 1000})
    return len(r.json()["events"]) if r.status_code == 200 else -1


def test_database_outage_holds_messages_until_it_is_back(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
    wait_for(lambda: event_count(client) == 0, what="birth stored")
    block_connections(pg_url)
    try:
        t = time.time()
        for i in range(40):  # seats keep changing while the database is away
            seat = f"s{i % 3}"
            frm, to = ("empty", "occupied") if (i // 3) % 2 == 0 else ("occupied", "empty")
            edge.event(seat, frm, to, at=t + i)
            edge.delta({seat: to}, since=t + i)
        time.sleep(3)  # the writer fails and retries meanwhile
    finally:
        allow_connections(pg_url)
    wait_for(lambda: event_count(client) == 40, timeout=30, what="all 40 events after the database came back")


def test_hub_stopped_before_commit_gets_the_messages_again(pg_url, broker, sim):
    # A fixed client id with a session the broker keeps: what was not committed is resent.
    settings = hub_settings(broker, pg_url)
    mqtt = MqttSettings(host=broker.host, port=broker.port, topic_prefix=broker.prefix,
                        shared_group=settings.mqtt.shared_group, client_id=f"hub-{uuid.uuid4().hex[:8]}",
                        session_expiry_s=300)
    settings = type(settings)(database=settings.database, mqtt=mqtt, ingest=settings.ingest)
    edge = sim()
    app = create_app(settings, migrate=True)
    with TestClient(app) as client:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        admin_client(client, pg_url)
        edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
        wait_for(lambda: event_count(client) == 0, what="birth stored")
        block_connections(pg_url)
        t = time.time()
        for i in range(10):
            edge.event("s0", "empty" if i % 2 == 0 else "occupied", "occupied" if i % 2 == 0 else "empty", at=t + i)
        time.sleep(2)  # received, not committed, not acknowledged
    # The hub stopped with the messages unacknowledged. The database comes back; a new hub
    # process with the same client id resumes the session and the broker sends them again.
    allow_connections(pg_url)
    app2 = create_app(settings, migrate=True)
    with TestClient(app2) as client2:
        login(client2, "admin")
        wait_for(lambda: event_count(client2) == 10, timeout=30, what="the 10 uncommitted events, resent")
