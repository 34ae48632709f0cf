"""A real EdgeAgent for end-to-end tests: its config on an image-folder camera, and a tick loop."""

from __future__ import annotations

import json
import shutil
import time

from edge_agent.agent import EdgeAgent
from edge_agent.demo.layout import DEMO_PICTURES, DEMO_SEATS, OFFLINE_PERSON_CLASSES


def agent_config(tmp_path, broker, weights) -> dict:
    cam = tmp_path / "cam"
    cam.mkdir(exist_ok=True)
    shutil.copy(DEMO_PICTURES[1][0], cam / "000.jpg")  # a student at a01
    return {
        "config_version": 1,
        "edge": {"store_id": "cfgpush", "edge_id": "edge1", "data_dir": str(tmp_path / "data"),
                 "sample_interval_s": 0.5},
        "mqtt": {"host": broker.host, "port": broker.port, "topic_prefix": broker.prefix},
        "model": {"weights": str(weights), "person_classes": OFFLINE_PERSON_CLASSES, "item_classes": [],
                  "conf": 0.4},
        "state": {"enter_s": 1.0, "exit_s": 2.0},
        "local_ui": {"enabled": False},
        "channels": [{"id": 1, "url": str(cam)}],
        "seats": [json.loads(json.dumps({"seat_id": s.seat_id, "channel": 1, "label": s.label,
                                         "polygon": s.polygon})) for s in DEMO_SEATS if s.channel == 1],
    }


def run_agent_until(agent: EdgeAgent, pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        agent.tick()
        if got := pred():
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def seats_at_hub(client) -> dict[str, str]:
    r = client.get("/api/v1/stores/cfgpush/seats")
    return {s["seat_id"]: s["state"] for s in r.json()} if r.status_code == 200 else {}

