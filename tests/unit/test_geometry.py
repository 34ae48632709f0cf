"""Geometry: exact cases by hand, and clipping checked against a dense point grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edge_agent.seats.geometry import (
    bounding_box,
    box_area,
    box_intersection,
    clip_polygon_to_box,
    is_simple,
    point_in_polygon,
    polygon_area,
    polygon_box_intersection_area,
    segments_intersect,
    self_intersection,
)

SQUARE = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]
# An L shape (concave): the unit square's lower-left 3 quarters of [0.1, 0.9]^2.
L_SHAPE = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.5), (0.5, 0.5), (0.5, 0.9), (0.1, 0.9)]
# A U shape: the clip box can cut it into two separate pieces.
U_SHAPE = [(0.1, 0.1), (0.3, 0.1), (0.3, 0.7), (0.7, 0.7), (0.7, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]


def test_areas_and_boxes():
    assert polygon_area(SQUARE) == pytest.approx(0.16)
    assert polygon_area(list(reversed(SQUARE))) == pytest.approx(0.16)
    assert polygon_area([(0, 0), (1, 0), (0, 1)]) == pytest.approx(0.5)
    assert polygon_area(L_SHAPE) == pytest.approx(0.64 - 0.16)
    assert polygon_area([(0, 0), (1, 1)]) == 0.0
    assert bounding_box(L_SHAPE) == (0.1, 0.1, 0.9, 0.9)
    assert box_area((0.1, 0.2, 0.3, 0.7)) == pytest.approx(0.1)
    assert box_area((0.3, 0.2, 0.1, 0.7)) == 0.0  # inverted box has no area
    assert box_intersection((0, 0, 0.5, 0.5), (0.25, 0.25, 1, 1)) == (0.25, 0.25, 0.5, 0.5)
    assert box_intersection((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1)) is None
    with pytest.raises(ValueError):
        bounding_box([])


def test_point_in_polygon_concave():
    assert point_in_polygon((0.3, 0.3), L_SHAPE)
    assert point_in_polygon((0.3, 0.8), L_SHAPE)
    assert not point_in_polygon((0.7, 0.7), L_SHAPE)  # the notch
    assert not point_in_polygon((0.95, 0.3), L_SHAPE)
    assert not point_in_polygon((0.5, 0.3), U_SHAPE)  # inside the U's gap
    assert point_in_polygon((0.5, 0.8), U_SHAPE)


@pytest.mark.parametrize(
    "poly, box, expected",
    [
        (SQUARE, (0.0, 0.0, 1.0, 1.0), 0.16),  # box holds it all
        (SQUARE, (0.3, 0.3, 0.4, 0.4), 0.01),  # box inside the polygon
        (SQUARE, (0.4, 0.4, 0.8, 0.8), 0.04),  # corner overlap
        (SQUARE, (0.7, 0.7, 0.9, 0.9), 0.0),  # apart
        (SQUARE, (0.6, 0.2, 0.9, 0.6), 0.0),  # touching along an edge
        (L_SHAPE, (0.4, 0.4, 0.8, 0.8), 0.16 - 0.09),  # box over the notch: only the L's part counts
        (L_SHAPE, (0.6, 0.6, 0.8, 0.8), 0.0),  # box entirely in the notch
        (U_SHAPE, (0.2, 0.2, 0.8, 0.6), 0.08),  # two separate pieces, 0.1 x 0.4 each
        (U_SHAPE, (0.0, 0.0, 1.0, 1.0), 0.64 - 0.24),
    ],
)
def test_polygon_box_intersection_exact(poly, box, expected):
    assert polygon_box_intersection_area(poly, box) == pytest.approx(expected, abs=1e-12)


def test_clip_result_lies_in_box():
    pts = clip_polygon_to_box(U_SHAPE, (0.2, 0.2, 0.8, 0.6))
    assert pts and all(0.2 - 1e-12 <= x <= 0.8 + 1e-12 and 0.2 - 1e-12 <= y <= 0.6 + 1e-12 for x, y in pts)


def test_degenerate_inputs():
    assert polygon_box_intersection_area(SQUARE, (0.3, 0.3, 0.3, 0.5)) == 0.0  # zero-width box
    assert polygon_box_intersection_area([(0.1, 0.1), (0.2, 0.2)], (0, 0, 1, 1)) == 0.0


def _grid_area(poly, box, n=500) -> float:
    """Area by counting cell centres of a dense grid that fall in both (vectorised even-odd)."""
    xs = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(xs, xs)
    inside = np.zeros_like(X, dtype=bool)
    m = len(poly)
    for i in range(m):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % m]
        if y1 == y2:
            continue
        crosses = (y1 > Y) != (y2 > Y)
        xc = x1 + (Y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (xc > X)
    in_box = (box[0] <= X) & (box[2] >= X) & (box[1] <= Y) & (box[3] >= Y)
    return float((inside & in_box).sum()) / (n * n)


coord = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def star_polygons(draw):
    """Random star-shaped (often concave) simple polygons: points at sorted angles around a centre."""
    k = draw(st.integers(3, 9))
    cx, cy = draw(st.floats(0.3, 0.7)), draw(st.floats(0.3, 0.7))
    angles = sorted(draw(st.lists(st.floats(0, 2 * np.pi - 1e-3), min_size=k, max_size=k, unique=True)))
    radii = draw(st.lists(st.floats(0.05, 0.29), min_size=k, max_size=k))
    poly = [(cx + r * float(np.cos(a)), cy + r * float(np.sin(a))) for a, r in zip(angles, radii)]
    # With all angles inside a half turn the closing edge can cross the others: not a seat shape.
    assume(is_simple(poly) and polygon_area(poly) > 1e-6)
    return poly


@st.composite
def boxes(draw):
    x1, x2 = sorted((draw(coord), draw(coord)))
    y1, y2 = sorted((draw(coord), draw(coord)))
    return (x1, y1, x2, y2)


@settings(max_examples=60, deadline=None)
@given(poly=star_polygons(), box=boxes())
def test_clip_area_matches_grid(poly, box):
    exact = polygon_box_intersection_area(poly, box)
    assert 0.0 <= exact <= min(polygon_area(poly), box_area(box)) + 1e-12
    # grid error is bounded by the boundary length times the cell size
    assert exact == pytest.approx(_grid_area(poly, box), abs=0.01)


@settings(max_examples=100, deadline=None)
@given(poly=star_polygons(), box=boxes())
def test_clip_is_additive_over_box_halves(poly, box):
    """Splitting the box in two splits the area in two: catches sign/orientation slips."""
    x1, y1, x2, y2 = box
    xm = (x1 + x2) / 2
    whole = polygon_box_intersection_area(poly, box)
    parts = polygon_box_intersection_area(poly, (x1, y1, xm, y2)) + polygon_box_intersection_area(
        poly, (xm, y1, x2, y2)
    )
    assert whole == pytest.approx(parts, abs=1e-9)


def test_segments_intersect_cases():
    assert segments_intersect((0, 0), (1, 1), (0, 1), (1, 0))  # crossing
    assert not segments_intersect((0, 0), (1, 0), (0, 1), (1, 1))  # parallel
    assert segments_intersect((0, 0), (1, 0), (0.5, 0), (0.5, 1))  # T touch
    assert segments_intersect((0, 0), (1, 0), (0.5, 0), (2, 0))  # collinear overlap
    assert not segments_intersect((0, 0), (1, 0), (1.5, 0), (2, 0))  # collinear apart
    assert not segments_intersect((0, 0), (1, 0), (0.5, 0.1), (0.5, 1))  # near miss


@pytest.mark.parametrize(
    "poly, simple",
    [
        (SQUARE, True),
        (L_SHAPE, True),
        (U_SHAPE, True),
        ([(0, 0), (1, 0), (0, 1)], True),
        ([(0, 0), (1, 1), (1, 0), (0, 1)], False),  # bow tie
        ([(0, 0), (1, 0), (1, 1), (1, 1), (0, 1)], False),  # repeated point
        ([(0, 0), (1, 0), (0.5, 0), (0.5, 1)], False),  # edge folds back on the previous one
        ([(0, 0), (1, 0), (1, 1), (0.5, 0), (0, 1)], False),  # vertex touches a non-adjacent edge
        ([(0, 0), (0.5, 0), (1, 0), (1, 1), (0, 1)], True),  # collinear vertex going straight on
    ],
)
def test_self_intersection(poly, simple):
    assert is_simple(poly) is simple
    assert (self_intersection(poly) is None) is simple
