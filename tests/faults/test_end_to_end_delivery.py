"""Issue 20, item 4: nothing lost when the broker loses what it acknowledged.

A PUBACK only says the broker took a message. Before: the edge deleted an event at its PUBACK,
so a broker that died (SIGKILL, or any restart: Mosquitto 2.0.11 does not restore shared
subscriptions from its persistence file) while the hub was down or behind lost those events for
good (100 of 100 in the attack run). Now the edge keeps each event until the hub's ``Stored``
confirmation and sends again what the hub has not confirmed; the hub's dedupe absorbs repeats.

Real parts: a Mosquitto of the test's own (SIGKILLed and restarted, no persistence), the real
Uplink/EdgeStore (scripted seat changes, no camera), the real hub app and PostgreSQL.
"""

from __future__ import annotations

import signal
import time

from litestar.testing import TestClient

from hub.app import create_app
from tests.support.hub_auth import admin_client
from tests.support.hub_harness import hub_settings
from tests.support.scripted_edge import SEATS, T0, ScriptedEdge, cfg_for
from tests.support.waiting import wait_for


def _events(client: TestClient) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/v1/stores/outage/events", params=params)
        if r.status_code == 404:  # no birth yet: the store is not registered
            return out
        page = r.json()
        assert "events" in page, (r.status_code, page)
        out += page["events"]
        cursor = page["next"]
        if not cursor:
            return out


def _kill_and_restart(broker) -> None:
    broker.process.send_signal(signal.SIGKILL)
    broker.process.wait(10)
    broker.start()


def test_events_survive_a_broker_sigkill_while_the_hub_is_down(tmp_path, private_broker, pg_url):
    settings = hub_settings(private_broker, pg_url)
    edge = ScriptedEdge(cfg_for(private_broker, tmp_path), tmp_path)
    edge.uplink.confirm_timeout_s = 2.0  # 30 s in production
    app = create_app(settings, migrate=True)
    t = T0
    with TestClient(app) as client:
        admin_client(client, pg_url)
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge.uplink.start()
        for i in range(10):
            t += 7
            edge.change(SEATS[i % 10].seat_id, t)
        wait_for(lambda: len(_events(client)) >= 10, 20, "the first events at the hub")
        wait_for(lambda: edge.store.depth() == 0, 20, "the hub's confirmations")
        assert edge.store.meta_get("hub_confirms_stored") == "1"
    try:
        # The hub is down. The broker acknowledges 100 changes, then dies (SIGKILL, no persistence).
        for i in range(100):
            t += 7
            edge.change(SEATS[(i * 3) % 10].seat_id, t)
        wait_for(lambda: edge.store.awaiting_confirmation() >= 100, 20, "PUBACKs for the burst")
        _kill_and_restart(private_broker)
        wait_for(lambda: edge.uplink.connected, 30, "the edge back on the restarted broker")
        time.sleep(1.0)
        assert edge.store.depth() >= 100  # kept: nobody has stored them yet
        # The hub comes back (the broker has no session of it): the edge sends them again.
        app2 = create_app(settings, migrate=False)
        with TestClient(app2) as client:
            admin_client(client, pg_url)
            wait_for(lambda: len(_events(client)) >= 110, 60,
                     f"all 110 events at the hub (has {len(_events(client))})")
            wait_for(lambda: edge.store.depth() == 0, 30, "the outbox emptied by confirmations")
            events = _events(client)
            assert len(events) == 110 and len({(e["seat_id"], e["at"]) for e in events}) == 110  # exactly once
    finally:
        edge.uplink.stop()
        edge.store.close()
