"""The edge's wall clock steps back an hour while the agent runs (NTP correcting a box whose clock
ran ahead). Real EdgeAgent: image-folder camera through the capture code, the real person model,
real Mosquitto. Before the fix the seat engine refused the "older" samples with OutOfOrderSample,
which escaped ``tick()`` and ended the agent's run loop: capture, seats and uplink all stopped."""

from __future__ import annotations

import logging
import time

from edge_agent.agent import EdgeAgent
from edge_agent.settings import parse_config
from tests.support.agent import agent_config


def test_clock_step_back_keeps_the_agent_running(tmp_path, broker, person_model_path, monkeypatch, caplog):
    cfg = parse_config(agent_config(tmp_path, broker, person_model_path))
    agent = EdgeAgent(cfg)
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while not agent.capture.latest_frames(5.0) and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(4):
            agent.tick()
            time.sleep(0.3)
        before = {s.seat_id: s.state for s in agent.engine.snapshots()}
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 3600.0)  # the clock steps back an hour
        time.sleep(0.5)  # frames captured on the new clock
        with caplog.at_level(logging.WARNING, logger="seat_edge.agent"):
            for _ in range(4):
                agent.tick()  # raised OutOfOrderSample before the fix
                time.sleep(0.3)
        assert any("clock" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
        after = {s.seat_id: s.state for s in agent.engine.snapshots()}
        assert after.keys() == before.keys()
        assert agent.ticks >= 8
    finally:
        monkeypatch.undo()
        agent.stop()
