"""Seat layout validation for the edge's TOML loader and hub-pushed configs: the shared rules in
``protocol.layout`` (the hub applies the same ones before it pushes)."""

from __future__ import annotations

from protocol.layout import MIN_AREA, SEAT_ID_RE, LayoutError, layout_problems  # noqa: F401
from protocol.messages import SeatDef


def check_layout(channels: list[int], seats: list[SeatDef]) -> None:
    """Raise LayoutError listing every problem. ``channels`` empty means "not known here"."""
    if problems := layout_problems(seats, channels):
        raise LayoutError(problems)
