"""Layout validation: each bad layout fails with a message naming the seat and the problem."""

from __future__ import annotations

import pytest

from edge_agent.settings import ConfigError, parse_config
from protocol.layout import LayoutError, check_layout
from protocol.messages import SeatDef

RECT = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.5), (0.1, 0.5)]


def seat(sid="A-01", channel=1, polygon=RECT) -> SeatDef:
    return SeatDef(seat_id=sid, channel=channel, polygon=polygon)


def test_good_layout_passes():
    check_layout([seat("A-01"), seat("2F.b_3", channel=2), seat("x")], [1, 2])
    check_layout([seat("A-01", channel=99)], [])  # channels unknown: not checked
    check_layout([], [1])


@pytest.mark.parametrize(
    "seats, message",
    [
        ([seat(polygon=[(0.1, 0.1), (0.2, 0.1)])], "at least 3 points, got 2"),
        ([seat(polygon=[(0.1, 0.1), (1.2, 0.1), (0.5, 0.5)])], "point 1 (1.2, 0.1) is outside 0..1"),
        ([seat(polygon=[(-0.1, 0.1), (0.2, 0.1), (0.5, 0.5)])], "point 0 (-0.1, 0.1) is outside 0..1"),
        ([seat(polygon=[(0.1, 0.1), (float("nan"), 0.1), (0.5, 0.5)])], "point 1"),
        ([seat(polygon=[(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)])], "has no area (all points on one line)"),
        ([seat(polygon=[(0.1, 0.1), (0.1005, 0.1), (0.1, 0.1005)])], "polygon is too small"),
        ([seat(polygon=[(0.1, 0.1), (0.4, 0.4), (0.4, 0.1), (0.1, 0.4)])], "edges 0 and 2 cross or touch"),
        ([seat(polygon=[(0.1, 0.1), (0.4, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)])], "repeats point 1"),
        ([seat("A-01"), seat("A-01")], "duplicate seat id 'A-01'"),
        ([seat(channel=3)], "channel 3 is not configured (known: [1, 2])"),
        ([seat("")], "invalid seat id ''"),
        ([seat("-a")], "invalid seat id '-a'"),
        ([seat("a/b")], "invalid seat id 'a/b'"),
        ([seat("a+b")], "invalid seat id 'a+b'"),
        ([seat("x" * 64)], "invalid seat id"),
    ],
)
def test_bad_layouts(seats, message):
    with pytest.raises(LayoutError) as exc:
        check_layout(seats, [1, 2])
    assert message in str(exc.value)
    if seats and seats[0].seat_id == "A-01" and "seat id" not in message:
        assert "'A-01'" in str(exc.value)  # the seat at fault is named


def test_layout_error_is_value_error_and_reaches_config_loader():
    assert issubclass(LayoutError, ValueError)
    data = {
        "edge": {"store_id": "s1"},
        "channels": [{"id": 1, "url": "rtsp://x/1"}],
        "seats": [{"seat_id": "A1", "channel": 2, "polygon": RECT}],
    }
    with pytest.raises(ConfigError, match="seat 'A1': channel 2 is not configured"):
        parse_config(data, "edge.toml")
