"""Seat layout validation, the same on both tiers: the hub checks a layout before it pushes it,
the edge checks it again before applying it (and when it reads its TOML file).

Every problem names the seat and what is wrong, so an installer can fix the file, or the hub
can show the edge's ConfigAck error, without guessing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from protocol.limits import MAX_POLYGON_POINTS, MAX_SEATS_PER_MESSAGE
from protocol.messages import SeatDef
from protocol.polygons import polygon_area, self_intersection

# Seat ids appear in the hub's UI and exports; unlike store/edge ids they never go into topics,
# so uppercase and dots are allowed ("A-01", "2F.12").
SEAT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MIN_AREA = 1e-6  # normalised units: about one pixel of a 1280x720 frame


class LayoutError(ValueError):
    """The seat layout cannot be used; ``problems`` lists every reason, each naming its seat."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def seat_problem(seat: SeatDef) -> str | None:
    """The first thing wrong with one seat (its id, polygon and desk zone), or None."""
    sid = seat.seat_id
    if not isinstance(sid, str) or not SEAT_ID_RE.match(sid):
        return f"invalid seat id {sid!r}: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
    if (p := polygon_problem(sid, seat.polygon, "polygon")) is not None:
        return p
    if seat.desk is not None:
        return polygon_problem(sid, seat.desk, "desk")
    return None


def polygon_problem(sid: str, poly: Sequence[tuple[float, float]], what: str = "polygon") -> str | None:
    """The same rules for the seat polygon and the (optional) desk polygon; ``what`` names it."""
    if len(poly) < 3:
        return f"seat {sid!r}: {what} needs at least 3 points, got {len(poly)}"
    if len(poly) > MAX_POLYGON_POINTS:
        # checked before the crossing test, which is quadratic: 3000 points took 4 s of CPU
        return f"seat {sid!r}: {what} has {len(poly)} points, at most {MAX_POLYGON_POINTS} are allowed"
    where = "" if what == "polygon" else f"{what} "
    for i, (x, y) in enumerate(poly):
        if not (math.isfinite(x) and math.isfinite(y)) or not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return (f"seat {sid!r}: {where}point {i} ({x}, {y}) is outside 0..1 "
                    "(coordinates are fractions of the frame)")
    bad = self_intersection(poly)
    if bad is not None and bad[0] == bad[1]:
        return f"seat {sid!r}: {what} repeats point {bad[0]} ({poly[bad[0]]})"
    if _collinear(poly):
        return f"seat {sid!r}: {what} has no area (all points on one line)"
    if bad is not None:
        return (f"seat {sid!r}: {what} edges {bad[0]} and {bad[1]} cross or touch "
                "(points must go around the seat in order)")
    if polygon_area(poly) < MIN_AREA:
        return f"seat {sid!r}: {what} is too small (area {polygon_area(poly):.2e} of the frame)"
    return None


def _collinear(poly: Sequence[tuple[float, float]]) -> bool:
    """All points on one line: twice the triangle areas against the first edge vanish."""
    (x0, y0), (x1, y1) = poly[0], poly[1]
    return all(abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) < 1e-12 for x, y in poly[2:])


def layout_problems(seats: Sequence[SeatDef], known_channels: Iterable[int] | None = None) -> list[str]:
    """Everything wrong with a layout. ``known_channels`` None (or empty) means "not known here"."""
    if len(seats) > MAX_SEATS_PER_MESSAGE:
        return [f"layout has {len(seats)} seats, at most {MAX_SEATS_PER_MESSAGE} are allowed per edge"]
    known = set(known_channels or ())
    problems: list[str] = []
    seen: set[str] = set()
    for seat in seats:
        if (p := seat_problem(seat)) is not None:
            problems.append(p)
        if seat.seat_id in seen:
            problems.append(f"duplicate seat id {seat.seat_id!r}")
        seen.add(seat.seat_id)
        if known and seat.channel not in known:
            problems.append(f"seat {seat.seat_id!r}: channel {seat.channel} is not configured (known: {sorted(known)})")
    return problems


def check_layout(seats: Sequence[SeatDef], known_channels: Iterable[int] | None = None) -> None:
    if problems := layout_problems(seats, known_channels):
        raise LayoutError(problems)
