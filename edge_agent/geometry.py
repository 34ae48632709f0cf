"""Plane geometry for seat polygons and detector boxes, in normalised 0..1 coordinates.

Pure Python (no shapely): seat polygons are small (4-12 points) and the only hard
operation we need is "area of a polygon inside an axis-aligned box", which Sutherland-Hodgman
clipping does exactly even for a concave polygon, because the clip window (the box) is convex.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 with x1 <= x2, y1 <= y2

_EPS = 1e-12


def signed_area(poly: Sequence[Point]) -> float:
    """Shoelace area; positive for counter-clockwise in a y-up frame (sign is only used for tests)."""
    n = len(poly)
    if n < 3:
        return 0.0
    s = 0.0
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        s += x1 * y2 - x2 * y1
    return s / 2.0


def polygon_area(poly: Sequence[Point]) -> float:
    return abs(signed_area(poly))


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


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return (
        min(a[0], b[0]) - _EPS <= p[0] <= max(a[0], b[0]) + _EPS
        and min(a[1], b[1]) - _EPS <= p[1] <= max(a[1], b[1]) + _EPS
    )


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """True when segments ab and cd share at least one point (touching counts)."""
    o1, o2 = _orient(a, b, c), _orient(a, b, d)
    o3, o4 = _orient(c, d, a), _orient(c, d, b)

    def sgn(v: float) -> int:
        return 0 if abs(v) <= _EPS else (1 if v > 0 else -1)

    s1, s2, s3, s4 = sgn(o1), sgn(o2), sgn(o3), sgn(o4)
    if s1 * s2 < 0 and s3 * s4 < 0:  # proper crossing
        return True
    if s1 == 0 and _on_segment(a, b, c):
        return True
    if s2 == 0 and _on_segment(a, b, d):
        return True
    if s3 == 0 and _on_segment(c, d, a):
        return True
    return s4 == 0 and _on_segment(c, d, b)


def self_intersection(poly: Sequence[Point]) -> tuple[int, int] | None:
    """Indices (i, j) of two edges that cross or touch (edge i runs from point i to i+1), or
    None for a simple polygon. Adjacent edges may share their common point only: folding back
    along each other counts as an intersection. Repeated points count too."""
    n = len(poly)
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    for i, (a, b) in enumerate(edges):
        if abs(a[0] - b[0]) <= _EPS and abs(a[1] - b[1]) <= _EPS:
            return (i, i)  # zero-length edge: a repeated point
    for i in range(n):
        a, b = edges[i]
        for j in range(i + 1, n):
            c, d = edges[j]
            adjacent_next = j == i + 1
            adjacent_wrap = i == 0 and j == n - 1
            if adjacent_next or adjacent_wrap:
                # Shared vertex is fine; overlapping (collinear and doubling back) is not.
                shared, other_i, other_j = (b, a, d) if adjacent_next else (a, b, c)
                if abs(_orient(shared, other_i, other_j)) <= _EPS:
                    # collinear: bad only if the two edges point the same way from the shared point
                    v1 = (other_i[0] - shared[0], other_i[1] - shared[1])
                    v2 = (other_j[0] - shared[0], other_j[1] - shared[1])
                    if v1[0] * v2[0] + v1[1] * v2[1] > 0:
                        return (i, j)
                continue
            if segments_intersect(a, b, c, d):
                return (i, j)
    return None


def is_simple(poly: Sequence[Point]) -> bool:
    return self_intersection(poly) is None
