"""How far a channel's picture has moved from the one its desk references were taken on.

Each desk patch is registered to its reference (``reference.compare``); the seat's offset is
where its desk was found. The channel's drift is the median offset (and turn) over the seats
whose registration is reliable this sample (no person on the seat, the desk's structure
matched), smoothed over the last few samples so one person leaning over a desk does not move
it. Beyond ``drift_tolerance`` the installer should redraw the seats or re-take the references:
``seat-edge status`` says so. Pure: values in, values out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import msgspec
import numpy as np

from edge_agent.seats.reference import Comparison

MIN_MATCH = 0.5  # a registration below this correlation says little about where the desk is
WINDOW = 5  # samples the channel's drift is the median of


class ChannelDrift(msgspec.Struct, frozen=True):
    """One channel's drift, as stored for ``seat-edge status``."""

    channel: int
    dx: float  # fraction of the frame width (+ right)
    dy: float  # fraction of the frame height (+ down)
    seats: int  # seats the estimate rests on (latest sample)
    beyond: bool  # further than the tolerance, or beyond the search window for most seats
    tolerance: float

    @property
    def size(self) -> float:
        return float(np.hypot(self.dx, self.dy))

    def text(self) -> str:
        where = f"{self.size:.1%} of the frame (dx {self.dx:+.1%}, dy {self.dy:+.1%}, {self.seats} seats)"
        if self.beyond:
            return (f"camera moved {where}, more than the {self.tolerance:.0%} tolerance: redraw the seats "
                    f"or re-take the reference (seat-edge reference --channel {self.channel})")
        return f"picture drift {where}, within the {self.tolerance:.0%} tolerance"


@dataclass
class DriftMeter:
    tolerance: float
    _dx: deque = None  # type: ignore[assignment]
    _dy: deque = None  # type: ignore[assignment]
    _edge: deque = None  # type: ignore[assignment]
    seats: int = 0

    def __post_init__(self) -> None:
        self._dx, self._dy, self._edge = deque(maxlen=WINDOW), deque(maxlen=WINDOW), deque(maxlen=WINDOW)

    def add(self, comparisons: list[Comparison]) -> None:
        """This sample's comparisons of the seats without a person (others are left out)."""
        if not comparisons:
            return
        good = [c for c in comparisons if c.match >= MIN_MATCH and not c.at_edge]
        # Most desks not found again (at the window's border, or nothing there matches): the
        # picture moved further than the search window, or the scene is not the one referenced.
        lost = len(comparisons) - len(good) > len(comparisons) / 2
        self.seats = len(good)
        if good:
            self._dx.append(float(np.median([c.dx for c in good])))
            self._dy.append(float(np.median([c.dy for c in good])))
        self._edge.append(lost)

    def value(self, channel: int) -> ChannelDrift | None:
        if not self._edge:
            return None
        dx = float(np.median(self._dx)) if self._dx else 0.0
        dy = float(np.median(self._dy)) if self._dy else 0.0
        edge = sum(self._edge) > len(self._edge) / 2
        return ChannelDrift(channel, round(dx, 5), round(dy, 5), self.seats,
                            bool(edge or np.hypot(dx, dy) > self.tolerance), self.tolerance)
