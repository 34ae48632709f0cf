"""Plane geometry for seat polygons and detector boxes, in normalised 0..1 coordinates.

Pure Python (no shapely): seat polygons are small (4-12 points) and the only hard
operation we need is "area of a polygon inside an axis-aligned box", which Sutherland-Hodgman
clipping does exactly even for a concave polygon, because the clip window (the box) is convex.
"""

from __future__ import annotations

from collections.abc import Sequence

# The polygon predicates shared with the hub (layout validation) live in protocol.
from protocol.polygons import (  # noqa: F401 - re-exported for the edge's callers
    Point,
    _orient,
    is_simple,
    polygon_area,
    segments_intersect,
    self_intersection,
    signed_area,
)

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 with x1 <= x2, y1 <= y2

_EPS = 1e-12


def bounding_box(poly: Sequence[Point]) -> Box:
    if not poly:
        raise ValueError("bounding box of an empty polygon")
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    return (min(xs), min(ys), max(xs), max(ys))


def box_area(box: Box) -> float:
    x1, y1, x2, y2 = box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def box_intersection(a: Box, b: Box) -> Box | None:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


def point_in_polygon(p: Point, poly: Sequence[Point]) -> bool:
    """Even-odd ray casting. Points exactly on an edge may fall either way."""
    x, y = p
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xc:
                inside = not inside
    return inside


def _clip(poly: list[Point], inside, cross) -> list[Point]:
    """One Sutherland-Hodgman pass against a single half-plane."""
    out: list[Point] = []
    n = len(poly)
    for i in range(n):
        cur = poly[i]
        prev = poly[i - 1]
        cur_in, prev_in = inside(cur), inside(prev)
        if cur_in:
            if not prev_in:
                out.append(cross(prev, cur))
            out.append(cur)
        elif prev_in:
            out.append(cross(prev, cur))
    return out


def _cross_x(xc: float):
    def f(a: Point, b: Point) -> Point:
        t = (xc - a[0]) / (b[0] - a[0])
        return (xc, a[1] + t * (b[1] - a[1]))

    return f


def _cross_y(yc: float):
    def f(a: Point, b: Point) -> Point:
        t = (yc - a[1]) / (b[1] - a[1])
        return (a[0] + t * (b[0] - a[0]), yc)

    return f


def clip_polygon_to_box(poly: Sequence[Point], box: Box) -> list[Point]:
    """The part of ``poly`` inside ``box``. For a concave polygon the result may contain
    zero-width bridges along the box edges; its shoelace area is still exact."""
    x1, y1, x2, y2 = box
    out = list(poly)
    for inside, cross in (
        (lambda p: p[0] >= x1, _cross_x(x1)),
        (lambda p: p[0] <= x2, _cross_x(x2)),
        (lambda p: p[1] >= y1, _cross_y(y1)),
        (lambda p: p[1] <= y2, _cross_y(y2)),
    ):
        if not out:
            break
        out = _clip(out, inside, cross)
    return out


def polygon_box_intersection_area(poly: Sequence[Point], box: Box) -> float:
    if box_area(box) <= 0.0 or len(poly) < 3:
        return 0.0
    # Cheap reject on bounding boxes: most person/seat pairs in a frame do not touch.
    if box_intersection(bounding_box(poly), box) is None:
        return 0.0
    return polygon_area(clip_polygon_to_box(poly, box))
