"""`seat-edge status` says when a channel's picture moved from its desk references (issue 17):
the agent's stored health (a real SQLite file) read by the status command."""

from __future__ import annotations

import time

import msgspec

from edge_agent.agent import StoredHealth, health_from_store
from edge_agent.commands.status import render_status
from edge_agent.seats.drift import ChannelDrift
from edge_agent.settings import parse_config
from edge_agent.storage.db import EdgeStore
from protocol.messages import ChannelHealth


def test_status_shows_camera_moved_and_drift_within_tolerance(tmp_path):
    cfg = parse_config({"edge": {"store_id": "s1", "data_dir": str(tmp_path)},
                        "channels": [{"id": 1, "url": "rtsp://x/1"}, {"id": 2, "url": "rtsp://x/2"}]})
    store = EdgeStore(tmp_path / "edge.sqlite")
    report = StoredHealth(
        at=time.time(),
        channels=[ChannelHealth(channel=1, online=True, fps=1.0), ChannelHealth(channel=2, online=True, fps=1.0)],
        drift=[ChannelDrift(1, 0.031, -0.004, 0.4, True, 0.02), ChannelDrift(2, 0.004, 0.001, -0.2, False, 0.02)],
    )
    store.meta_set("health", msgspec.json.encode(report).decode())
    assert health_from_store(store).drift[0].beyond
    store.close()
    text = render_status(cfg)
    lines = text.splitlines()
    i1 = next(i for i, x in enumerate(lines) if x.strip().startswith("ch1"))
    assert "camera moved 3.1% of the frame" in lines[i1 + 1]
    assert "redraw the seats or re-take the reference (seat-edge reference --channel 1)" in lines[i1 + 1]
    i2 = next(i for i, x in enumerate(lines) if x.strip().startswith("ch2"))
    assert "within the 2% tolerance" in lines[i2 + 1]


def test_old_stored_health_without_drift_still_reads(tmp_path):
    store = EdgeStore(tmp_path / "edge.sqlite")
    store.meta_set("health", '{"at": 1.0, "channels": [], "hub_connected": null}')
    assert health_from_store(store).drift == []
    store.close()


def test_status_names_desks_left_without_an_empty_reference(tmp_path):
    # `seat-edge reference` on a room where L2 holds a book and G a student with his laptop: the
    # installer reads which desks to clear, with the command to run again (issue 17).
    cfg = parse_config({"edge": {"store_id": "s1", "data_dir": str(tmp_path)},
                        "channels": [{"id": 3, "url": "rtsp://x/3"}],
                        "seats": [{"seat_id": "L2", "channel": 3, "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
                                  {"seat_id": "G", "channel": 3, "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}]})
    store = EdgeStore(tmp_path / "edge.sqlite")
    report = StoredHealth(at=time.time(), channels=[ChannelHealth(channel=3, online=True, fps=1.0)],
                          refused={"L2": ["book"], "G": ["laptop", "person"]}, cluttered={"G": ["backpack"]})
    store.meta_set("health", msgspec.json.encode(report).decode())
    store.close()
    text = render_status(cfg)
    assert "seat L2: no empty reference, book seen on it when asked; clear the desk and run seat-edge reference " \
           "--channel 3 again" in text
    assert "seat G: no empty reference, laptop, person seen" in text
    assert "seat G: its empty reference holds backpack" in text
