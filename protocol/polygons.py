"""Polygon predicates for seat polygons (normalised 0..1), shared by the edge and the hub.

They live in ``protocol`` because both tiers validate the seat layouts that cross the wire
(the hub before it pushes a config, the edge before it applies one) and neither imports the
other. Pure Python: seat polygons have 4-12 points.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]

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
