"""The installer's `seat-edge reference` on a room whose desks are not clear (issue 17: "belongings
present from the start"). Real EdgeAgent: the real f1-camera9 library frame through the capture
code, the offline YOLOv5s (tfjs backend, CPU), real Mosquitto; the request goes through SQLite as
the CLI leaves it. Desks where the detector sees belongings get no "empty" reference and the
agent says so; the clear desk gets one."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pytest

from edge_agent.agent import EdgeAgent
from edge_agent.settings import parse_config
from edge_agent.vision.backends.tfjs import offline_yolo_model
from tests.support.agent import agent_config

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SEQ = Path(__file__).resolve().parents[1] / "data" / "sequences" / "c9-left-table.json"


def test_reference_skips_desks_with_belongings(tmp_path, broker, caplog):
    if offline_yolo_model() is None:
        pytest.fail("the offline YOLOv5s is missing: run `bash scripts/setup.sh`")
    cfg = agent_config(tmp_path, broker, "unused")
    shutil.rmtree(tmp_path / "cam")
    (tmp_path / "cam").mkdir()
    shutil.copy(SHARED / "library-cctv" / "f1-camera9.jpg", tmp_path / "cam" / "000.jpg")
    cfg["model"] = {"type": "tfjs", "weights": "yolov5s-coco", "device": "cpu", "conf": 0.25}
    cfg["seats"] = json.loads(SEQ.read_text())["seats"]  # L1 clear; L2 a book; G and B laptops
    agent = EdgeAgent(parse_config(cfg))
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while not agent.capture.latest_frames(5.0) and time.monotonic() < deadline:
            time.sleep(0.1)
        agent.store.meta_set("reference_request", "1")  # what `seat-edge reference --channel 1` leaves
        with caplog.at_level(logging.INFO, logger="seat_edge.agent"):
            agent.tick()
        assert agent.store.meta_get("reference_request") == ""  # done
        assert agent.engine.reference("L1").ready
        refused = agent.engine.refused_references()
        assert {"L2", "G", "B"} <= refused.keys() and "L1" not in refused
        assert "book" in refused["L2"] and "laptop" in refused["G"]
        said = [r.getMessage() for r in caplog.records]
        assert any("seat L2: no empty reference taken" in m and "book" in m and "--channel 1" in m for m in said), said
        assert "person" in refused["G"]  # a seated student: not an empty desk either
        assert not agent.engine.reference("L2").ready
    finally:
        agent.stop()
