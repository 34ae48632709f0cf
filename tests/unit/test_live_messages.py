"""protocol.live: the messages a dashboard receives, in the JSON shape live.js reads."""

from __future__ import annotations

import json

import msgspec
import pytest

from protocol.live import (
    AlertChange,
    Hello,
    LiveChannel,
    LiveEdge,
    LiveSeat,
    Update,
    decode_live,
    encode_live,
)


def test_update_json_is_the_shape_the_page_reads_and_round_trips():
    u = Update(store_id="s1", seats=[LiveSeat("A1", "occupied", 12.5)], edges=[LiveEdge("e1", False, 3.0)],
               channels=[LiveChannel("e1", 2, True, 4.5)])
    assert json.loads(encode_live(u)) == {
        "type": "update", "store_id": "s1",
        "seats": [{"seat_id": "A1", "state": "occupied", "since": 12.5}],
        "edges": [{"edge_id": "e1", "online": False, "last_seen": 3.0}],
        "channels": [{"edge_id": "e1", "channel": 2, "online": True, "fps": 4.5}],
    }
    assert decode_live(encode_live(u)) == u
    # lists always present (the page iterates them without checking)
    assert json.loads(encode_live(Update(store_id="s1")))["channels"] == []


def test_hello_and_alert():
    assert json.loads(encode_live(Hello(store_id="s1"))) == {"type": "hello", "store_id": "s1"}
    a = AlertChange(event="closed", id=3, store_id="s1", seat_id=None, edge_id="e1", kind="edge_offline",
                    priority="critical", message="m", opened_at=1.0, closed_at=2.0, delivered=True)
    assert json.loads(encode_live(a))["type"] == "alert" and decode_live(encode_live(a)) == a


@pytest.mark.parametrize("bad", [b'{"type": "update"}', b'{"type": "nope", "store_id": "s"}',
                                 b'{"type": "update", "store_id": "s", "seats": [{"seat_id": "A", '
                                 b'"state": "sleeping", "since": 1}]}', b"not json"])
def test_anything_else_is_refused(bad):
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        decode_live(bad)
