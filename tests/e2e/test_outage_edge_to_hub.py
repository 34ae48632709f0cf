"""Issue 4 across both tiers: the broker goes down while seats keep changing, the edge buffers in
its SQLite outbox, the broker comes back, and the hub (real PostgreSQL) ends with exactly the
edge's seat states and every event exactly once. Then the edge process is killed with SIGKILL
mid-stream and restarted on the same data dir: nothing acknowledged is lost, nothing duplicated.

Real parts: a Mosquitto of the test's own (stopped and started), the real Uplink/EdgeStore, the
real hub app with its MQTT ingest, PostgreSQL. The seat changes are scripted (no camera): the
detector is not what this test is about.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient

from hub.app import create_app
from tests.support.hub_auth import admin_client
from tests.support.hub_harness import hub_settings
from tests.support.scripted_edge import SEATS, T0, ScriptedEdge, cfg_for
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]







def hub_events(client: TestClient) -> list[dict]:
    out, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/stores/outage/events", params=params).json()
        out += page["events"]
        cursor = page["next"]
        if not cursor:
            return out


def at_least(events: list[dict], n: int) -> list[dict] | None:
    return events if len(events) >= n else None


def hub_states(client: TestClient) -> dict[str, tuple[str, float]]:
    r = client.get("/api/v1/stores/outage/seats")
    return {s["seat_id"]: (s["state"], s["since"]) for s in r.json()} if r.status_code == 200 else {}


def test_broker_outage_hub_ends_identical_and_exactly_once(tmp_path, private_broker, pg_url):
    app = create_app(hub_settings(private_broker, pg_url), migrate=True)
    with TestClient(app) as client:
        admin_client(client, pg_url)
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = ScriptedEdge(cfg_for(private_broker, tmp_path), tmp_path)
        edge.uplink.start()
        try:
            wait_for(lambda: len(hub_states(client)) == 10, 20, "birth at the hub")
            t = T0
            for i in range(30):  # live
                t += 7
                edge.change(SEATS[i % 10].seat_id, t)
            wait_for(lambda: edge.store.depth() == 0, 20, "live messages acknowledged")
            # The broker runs without persistence: what it acknowledged to the edge but had not yet
            # passed on to the hub would die with it (a broker crash, not the outage tested here).
            wait_for(lambda: at_least(hub_events(client), edge.created), 20, "live events at the hub")

            private_broker.stop()
            for i in range(200):  # the store's internet is down: everything goes to the outbox
                t += 7
                edge.change(SEATS[(i * 3) % 10].seat_id, t)
            buffered = edge.store.depth()
            assert buffered >= 400  # 200 events + 200 deltas (superseded deltas may collapse later)

            private_broker.start()
            back = time.monotonic()
            wait_for(lambda: edge.store.depth() == 0, 60, "outbox replayed")
            replay_s = time.monotonic() - back
            for i in range(20):  # live again
                t += 7
                edge.change(SEATS[(i * 7) % 10].seat_id, t)

            expected = {k: (v.state, v.since) for k, v in edge.states.items()}
            wait_for(lambda: hub_states(client) == expected, 30, "hub state equal to the edge's")
            events = wait_for(lambda: at_least(hub_events(client), edge.created), 30, "all events at the hub")
            keys = [(e["seat_id"], e["at"]) for e in events]
            assert len(events) == edge.created == 250
            assert len(set(keys)) == len(keys), "duplicate events at the hub"
            assert sum(e["historical"] for e in events) == 200  # the outage's events, marked as replayed
            print(f"\n[outage figures] buffered={buffered} messages, replay={replay_s:.2f}s, "
                  f"events={len(events)}, lost=0, duplicates={len(keys) - len(set(keys))}")
        finally:
            edge.uplink.stop()
            edge.store.close()


KILLABLE = r"""
import sys, time
sys.path.insert(0, {repo!r})
from tests.support.scripted_edge import ScriptedEdge, SEATS, cfg_for
from tests.support.services import Broker
from pathlib import Path
data = Path({data!r})
edge = ScriptedEdge(cfg_for(Broker({host!r}, {port}, {prefix!r}), data), data)
edge.uplink.start()
t = {t0}
i = 0
while True:  # until SIGKILL
    t += 5
    edge.change(SEATS[i % 10].seat_id, t)
    i += 1
    print(i, flush=True)
    time.sleep(0.002)
"""


def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(tmp_path, broker, pg_url):
    app = create_app(hub_settings(broker, pg_url), migrate=True)
    repo = str(Path(__file__).resolve().parents[2])
    with TestClient(app) as client:
        admin_client(client, pg_url)
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        script = KILLABLE.format(repo=repo, data=str(tmp_path), host=broker.host, port=broker.port,
                                 prefix=broker.prefix, t0=T0)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        n = 0
        while n < 150:
            line = proc.stdout.readline()
            assert line, "scripted edge died"
            n = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()

        # Restart on the same data dir (new boot id): the outbox replays what was not acknowledged.
        edge = ScriptedEdge(cfg_for(broker, tmp_path), tmp_path)
        created = len(edge.store.events(limit=100_000))
        edge.uplink.start()
        try:
            wait_for(lambda: edge.store.depth() == 0, 30, "outbox drained after restart")
            events = wait_for(lambda: at_least(hub_events(client), created), 30, "hub has every stored event")
            keys = sorted((e["seat_id"], e["at"]) for e in events)
            stored = sorted((e.seat_id, e.at) for e in edge.store.events(limit=100_000))
            assert keys == stored  # exactly the edge's events: none lost, none twice
            expected = {k: (v.state, v.since) for k, v in edge.states.items()}
            wait_for(lambda: hub_states(client) == expected, 30, "hub state equal to the edge's")
        finally:
            edge.uplink.stop()
            edge.store.close()
