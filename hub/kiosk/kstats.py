"""Statistics that need both sides (pure): per local day, over the seats mapped to a kiosk seat,

- ``sold_s``: seat-time the kiosk had the seat sold and checked in (``in_use``),
- ``occupied_s``: seat-time the camera saw someone sitting (``occupied``),
- ``used_sold_s``: both at once (how much of the sold time is really used),
- ``hogged_s``: sold and checked in while the camera saw it empty or with only belongings,
- ``unpaid_s``: the camera saw someone sitting while the kiosk had it free,

and per seat the hogged time (the top hogged seats). Time where either side is unknown (no kiosk
state, an offline camera) counts in none of these. Kiosk times are the hub's clock (when it
learnt of a change); camera times are capture times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from hub.stats.compute import SeatTimeline, seat_segments

Steps = list[tuple[float, float, str]]


def kiosk_steps(initial: str | None, changes: Sequence[tuple[float, str]], start: float, end: float) -> Steps:
    """A kiosk seat's state over ``[start, end)``: ``initial`` (None: unknown) then its changes."""
    out: Steps = []
    state = initial or "unknown"
    cur = start
    for at, to in sorted(changes, key=lambda c: c[0]):  # stable: equal times keep their order
        if at >= end:
            break
        if at <= start:
            state = to
            continue
        if to != state:
            out.append((cur, at, state))
            cur, state = at, to
    out.append((cur, end, state))
    return [s for s in out if s[1] > s[0]]


def camera_steps(t: SeatTimeline, start: float, end: float) -> Steps:
    segs, _ = seat_segments(t, start, end)
    return [(s.start, s.end, s.state) for s in segs if s.end > s.start]


def _overlay(a: Steps, b: Steps):
    """Yield (from, to, a_state, b_state) over the common refinement of two step functions."""
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            yield lo, hi, a[i][2], b[j][2]
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1


@dataclass
class KioskDay:
    day: str
    sold_s: float = 0.0
    occupied_s: float = 0.0
    used_sold_s: float = 0.0
    hogged_s: float = 0.0
    unpaid_s: float = 0.0

    @property
    def used_share(self) -> float | None:
        return self.used_sold_s / self.sold_s if self.sold_s > 0 else None


@dataclass
class KioskStats:
    days: list[KioskDay]
    hogged_by_seat: dict[str, float] = field(default_factory=dict)  # camera seat id -> seconds

    def top_hogged(self, n: int = 5) -> list[tuple[str, float]]:
        return sorted(((k, v) for k, v in self.hogged_by_seat.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))[:n]


def compute(pairs: Mapping[str, tuple[SeatTimeline, str | None, Sequence[tuple[float, str]]]],
            day_edges: Sequence[float], zone: ZoneInfo) -> KioskStats:
    """``pairs``: camera seat id -> (its camera timeline, kiosk state at the start, kiosk changes);
    ``day_edges``: :func:`hub.stats.compute.bucket_bounds` with bucket "day"."""
    start, end = day_edges[0], day_edges[-1]
    days = [KioskDay(datetime.fromtimestamp(a, zone).date().isoformat()) for a, _ in pairwise(day_edges)]
    hogged: dict[str, float] = {}
    for cam, (timeline, k0, changes) in pairs.items():
        both = list(_overlay(camera_steps(timeline, start, end), kiosk_steps(k0, changes, start, end)))
        hogged[cam] = 0.0
        d = 0
        for lo, hi, cs, ks in both:
            # split at day edges
            while lo < hi:
                while day_edges[d + 1] <= lo:
                    d += 1
                cut = min(hi, day_edges[d + 1])
                dt, day = cut - lo, days[d]
                if cs != "unknown" and ks != "unknown":
                    if ks == "in_use":
                        day.sold_s += dt
                    if cs == "occupied":
                        day.occupied_s += dt
                    if ks == "in_use" and cs == "occupied":
                        day.used_sold_s += dt
                    if ks == "in_use" and cs in ("empty", "away", "abandoned"):
                        day.hogged_s += dt
                        hogged[cam] += dt
                    if ks == "free" and cs == "occupied":
                        day.unpaid_s += dt
                lo = cut
    return KioskStats(days, hogged)
