"""ROI config from the hub to a running edge agent (issue 4): the hub pushes a new layout, the
agent validates and applies it without restarting capture, acks, and the hub shows the new seats;
a broken layout gets an error ack and the old layout keeps running. After a restart the agent
continues from its stored layout and states, not from empty.

Real parts: EdgeAgent (image-folder camera through the capture code, the real person model on
the CPU, SQLite, paho), Mosquitto, the hub app on PostgreSQL.
"""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest
from litestar.testing import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.agent import EdgeAgent
from edge_agent.demo.layout import DEMO_SEATS
from edge_agent.settings import parse_config
from hub.app import create_app
from protocol import Config, ConfigAck, SeatDef, TopicSpace, decode, encode
from tests.support.agent import agent_config, run_agent_until, seats_at_hub
from tests.support.hub_auth import admin_client
from tests.support.hub_harness import hub_settings
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]








def test_config_push_apply_ack_reject_and_restart(tmp_path, broker, pg_url, person_model_path):
    app = create_app(hub_settings(broker, pg_url), migrate=True)
    with TestClient(app) as client:
        admin_client(client, pg_url)
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        cfg = parse_config(agent_config(tmp_path, broker, person_model_path))
        agent = EdgeAgent(cfg)
        agent.start()
        try:
            run_agent_until(agent, lambda: seats_at_hub(client) == {"a01": "occupied", "a02": "empty"}, 60,
                            "initial layout at the hub")
            readers_before = dict(agent.capture.readers)

            # 1. The hub pushes a new layout: a02 removed, c01 added on the same channel.
            new = [{"seat_id": "a01", "channel": 1, "label": "A-01", "polygon": DEMO_SEATS[0].polygon},
                   {"seat_id": "c01", "channel": 1, "label": "C-01",
                    "polygon": [[0.6, 0.7], [0.8, 0.7], [0.8, 0.95], [0.6, 0.95]]}]
            base = client.get("/api/v1/stores/cfgpush/edges/edge1/config").json()["version"]
            r = client.put("/api/v1/stores/cfgpush/edges/edge1/config", json={"seats": new, "base_version": base})
            assert r.status_code == 200, r.text
            version = r.json()["desired_version"]
            assert version == 2  # above the edge's own config_version 1
            run_agent_until(agent, lambda: client.get("/api/v1/stores/cfgpush/edges/edge1/config").json()
                            ["acked_version"] == version, 30, "ok ack at the hub")
            assert agent.layout.version == version
            assert agent.capture.readers == readers_before  # capture was not restarted
            run_agent_until(agent, lambda: seats_at_hub(client) == {"a01": "occupied", "c01": "empty"}, 30,
                            "new seats at the hub")

            # 2. A broken layout (self-intersecting polygon) published straight to the edge's
            #    config topic: error ack, and the good layout keeps running.
            bowtie = SeatDef(seat_id="x01", channel=1, polygon=[(0.1, 0.1), (0.3, 0.3), (0.3, 0.1), (0.1, 0.3)])
            bad = Config(store_id="cfgpush", edge_id="edge1", ts=time.time(), version=version + 1, seats=[bowtie])
            acks: list[ConfigAck] = []
            pub = mqtt.Client(CallbackAPIVersion.VERSION2)
            pub.on_message = lambda c, u, m: acks.append(decode(m.payload))
            pub.connect(broker.host, broker.port)
            pub.loop_start()
            space = TopicSpace(broker.prefix)
            pub.subscribe(space.topic("cfgpush", "edge1", "config_ack"), qos=1)
            topic = space.topic("cfgpush", "edge1", "config")
            time.sleep(0.5)
            pub.publish(topic, encode(bad), qos=1, retain=True).wait_for_publish(5)
            ack = run_agent_until(agent, lambda: next((a for a in acks if a.version == version + 1), None), 30,
                                  "the edge's error ack")
            assert not ack.ok and "x01" in ack.error
            assert agent.layout.version == version and [s.seat_id for s in agent.engine.seats] == ["a01", "c01"]
            pub.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained test config
            pub.loop_stop()
            pub.disconnect()
        finally:
            agent.stop()

        # 3. Restart: the stored (pushed) layout and the seat states continue, not the TOML's.
        agent = EdgeAgent(cfg)
        try:
            assert agent.layout.version == version
            assert {s.seat_id: s.state for s in agent.engine.snapshots()}["a01"] == "occupied"
        finally:
            agent.store.close()
