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


def is_axis_rect(poly: Sequence[Point]) -> bool:
    """A 4-point polygon whose edges are all horizontal or vertical (the common drawn seat):
    its intersection with a box is a box, no clipping needed."""
    if len(poly) != 4:
        return False
    xs = {p[0] for p in poly}
    ys = {p[1] for p in poly}
    if len(xs) != 2 or len(ys) != 2:
        return False
    for i in range(4):
        a, b = poly[i], poly[(i + 1) % 4]
        if a[0] != b[0] and a[1] != b[1]:
            return False
    return True


def derive_desk(poly: Sequence[Point], band: Sequence[float]) -> list[Point]:
    """The desk zone of a seat drawn without one: the part of the seat polygon inside a
    horizontal band of its bounding box (``band`` = top, bottom as fractions of its height,
    0 = top). Repeated points from the clipping are dropped. Falls back to the whole polygon
    when the band leaves less than a sliver."""
    x1, y1, x2, y2 = bounding_box(poly)
    top, bottom = float(band[0]), float(band[1])
    box = (x1, y1 + (y2 - y1) * top, x2, y1 + (y2 - y1) * bottom)
    clipped = clip_polygon_to_box(poly, box)
    out: list[Point] = []
    for p in clipped:
        if not out or abs(p[0] - out[-1][0]) > _EPS or abs(p[1] - out[-1][1]) > _EPS:
            out.append((float(p[0]), float(p[1])))
    if len(out) > 1 and abs(out[0][0] - out[-1][0]) <= _EPS and abs(out[0][1] - out[-1][1]) <= _EPS:
        out.pop()
    if len(out) < 3 or polygon_area(out) < 1e-9:
        return [tuple(p) for p in poly]
    return out


def poly_box_area_fast(poly: Sequence[Point], x1: float, y1: float, x2: float, y2: float,
                       pbox: Box | None = None) -> float:
    """``polygon_area(clip_polygon_to_box(poly, box))`` with the four clipping passes written
    out (no closures, no per-point dispatch): the hot path of seat assignment for a few skewed
    seat polygons. With the polygon's bounding box ``pbox``, passes against box sides the
    polygon lies within are skipped."""
    pts = list(poly)
    if pbox is None or pbox[0] < x1:
        pts = _clip_x(pts, x1, True)
    if pts and (pbox is None or pbox[2] > x2):
        pts = _clip_x(pts, x2, False)
    if pts and (pbox is None or pbox[1] < y1):
        pts = _clip_y(pts, y1, True)
    if pts and (pbox is None or pbox[3] > y2):
        pts = _clip_y(pts, y2, False)
    if len(pts) < 3:
        return 0.0
    s = 0.0
    px, py = pts[-1]
    for cx, cy in pts:
        s += px * cy - cx * py
        px, py = cx, cy
    return abs(s) / 2.0


def _clip_x(pts: list, xc: float, keep_right: bool) -> list:
    out = []
    px, py = pts[-1]
    pin = (px >= xc) if keep_right else (px <= xc)
    for cx, cy in pts:
        cin = (cx >= xc) if keep_right else (cx <= xc)
        if cin != pin:
            out.append((xc, py + (xc - px) / (cx - px) * (cy - py)))
        if cin:
            out.append((cx, cy))
        px, py, pin = cx, cy, cin
    return out


def _clip_y(pts: list, yc: float, keep_below: bool) -> list:
    out = []
    px, py = pts[-1]
    pin = (py >= yc) if keep_below else (py <= yc)
    for cx, cy in pts:
        cin = (cy >= yc) if keep_below else (cy <= yc)
        if cin != pin:
            out.append((px + (yc - py) / (cy - py) * (cx - px), yc))
        if cin:
            out.append((cx, cy))
        px, py, pin = cx, cy, cin
    return out


# Stands in for 1/dx of an edge with dx == 0 (a vertical edge): the parameter where the edge
# meets X = xc is then +-huge, so the edge is wholly in (x0 < xc) or out (x0 > xc) of the quadrant,
# and with x0 == xc it adds 0 either way (X - xc = 0 along it). Finite for coordinates below 1e100.
_BIG = 1e200


def edge_table(polys: Sequence[Sequence[Point]]) -> tuple:
    """Per polygon its edges prepared for ``poly_box_areas``, padded with zero edges to one
    length: a float table (n x k x 6: x0, y0, dx / 2, dy, 1 / dx, 1 / dy, with ``_BIG`` for a zero
    step), which way each edge runs (n x k x 2 bool: dx < 0, dy < 0), and each polygon's
    orientation sign. Built once per layout, so a frame pays no divisions."""
    import numpy as np

    k = max((len(p) for p in polys), default=3)
    e = np.zeros((len(polys), k, 6))
    sign = np.ones(len(polys))
    for j, p in enumerate(polys):
        a = np.asarray(p, dtype=np.float64)
        d = np.roll(a, -1, axis=0) - a
        e[j, : len(p), 0:2] = a
        e[j, : len(p), 2] = d[:, 0] / 2.0
        e[j, : len(p), 3] = d[:, 1]
        sign[j] = 1.0 if signed_area(p) >= 0 else -1.0
    dx, dy = e[..., 2] * 2.0, e[..., 3]
    with np.errstate(divide="ignore"):
        e[..., 4] = np.where(dx != 0, 1.0 / np.where(dx != 0, dx, 1.0), _BIG)
        e[..., 5] = np.where(dy != 0, 1.0 / np.where(dy != 0, dy, 1.0), _BIG)
    neg = np.stack((dx < 0, dy < 0), axis=-1)
    return e, neg, sign


def poly_box_areas(boxes, edges, neg, sign):
    """Exact area of polygon j inside box i for many (box, polygon) pairs at once (numpy;
    rows of ``boxes`` x1, y1, x2, y2 pair with rows of ``edges``/``neg``/``sign`` from
    ``edge_table``). Inclusion-exclusion over the box's four corners of the quadrant areas;
    works for concave simple polygons too.

    Quadrant X <= xc, Y <= yc: its area inside a polygon is the integral of (X - xc) dY along the
    polygon's edges clipped to it (the quadrant's own edges add nothing: X = xc on one, dY = 0 on
    the other). An edge p(s) = p0 + s d, s in 0..1, is inside for s in [lo, hi] (from the x and
    the y bound); its part adds dy * (hi - lo) * (x at the middle of the part - xc). The x bounds
    depend on xc only and the y bounds on yc only, so they are computed for the two x and the
    two y values of each box and combined for the four corners by broadcasting (numpy's per-call
    cost dominates at these sizes: few calls, no copies per corner)."""
    import numpy as np

    x0, y0, dxh, dy, ix, iy = (edges[..., c] for c in range(6))
    nx, ny = neg[..., 0], neg[..., 1]
    xc = np.stack((boxes[:, 2], boxes[:, 0]))[:, :, None]  # (2, n, 1): x2, x1
    yc = np.stack((boxes[:, 3], boxes[:, 1]))[:, :, None]  # y2, y1
    tx = (xc - x0) * ix  # (2, n, k): where each edge crosses X = xc
    ty = (yc - y0) * iy
    # An edge running towards +x leaves the quadrant at tx (upper bound), one running towards -x
    # enters it there (lower bound); the same for y.
    hi = np.minimum(np.where(nx, 1.0, tx)[None], np.where(ny, 1.0, ty)[:, None])  # (2 y, 2 x, n, k)
    lo = np.maximum(np.where(nx, tx, 0.0)[None], np.where(ny, ty, 0.0)[:, None])
    np.minimum(hi, 1.0, out=hi)
    np.maximum(lo, 0.0, out=lo)
    np.maximum(hi, lo, out=hi)  # an edge wholly outside: an empty part
    span = hi - lo
    hi += lo
    hi *= dxh
    hi += x0
    hi -= xc[None]
    hi *= span
    hi *= dy
    q = hi.sum(axis=-1)  # (2 y, 2 x, n): q[b, a] = quadrant (x_a, y_b)
    return (q[0, 0] - q[0, 1] - q[1, 0] + q[1, 1]) * sign
