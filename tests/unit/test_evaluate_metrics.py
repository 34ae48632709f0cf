"""`seat-edge evaluate`'s pure parts added for issue 17: the camera warp edit, totals over
sequences, and the "empty seat read away" run."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.commands.evaluate import Warp, combine, render_step, score


def test_warp_moves_turns_and_relights_the_whole_picture():
    im = np.zeros((100, 200, 3), np.uint8)
    im[40:60, 90:110] = 200
    out = render_step(im, [Warp(dx=0.05, dy=0.1, gain=0.5)], lambda n: im)
    ys, xs = np.nonzero(out[:, :, 0] > 50)
    assert xs.min() == 100 and ys.min() == 60  # 0.05 * 200 = 10 px right, 0.1 * 200 = 20 px down
    assert out.max() == 100  # x0.5
    turned = render_step(im, [Warp(angle=90.0)], lambda n: im)
    ys, xs = np.nonzero(turned[:, :, 0] > 50)
    assert ys.min() >= 39 and ys.max() <= 60 and xs.min() >= 89 and xs.max() <= 111  # a square about the centre


def test_false_away_run_and_totals():
    times = [float(t) for t in range(0, 40, 2)]
    labels = {"A": [(0.0, "empty")], "B": [(0.0, "away")]}
    a = ["empty"] * 20
    a[8:11] = ["away"] * 3  # three samples in a row: an empty desk read away
    a[14] = "abandoned"
    r1 = score("one", times, {"A": a, "B": ["away"] * 20}, labels, 2.0, lag_s=4.0)
    assert r1.false_away_run == 3
    r2 = score("two", times, {"A": ["empty"] * 20, "B": ["empty"] * 20}, labels, 2.0, lag_s=4.0)
    assert r2.false_away_run == 0 and r2.states["away"].recall == 0.0
    r1.model_ms, r1.model_runs, r1.seats_ms = 10.0, 2, 1.0
    r2.model_ms, r2.model_runs, r2.seats_ms = 40.0, 2, 3.0
    t = combine("all", [r1, r2])
    assert t.samples == r1.samples + r2.samples and t.right == r1.right + r2.right
    assert t.false_away_run == 3 and t.flicker == r1.flicker + r2.flicker
    assert t.model_ms == pytest.approx(25.0) and t.model_runs == 4 and t.seats_ms == pytest.approx(2.0)
    assert t.states["away"].labelled == r1.states["away"].labelled + r2.states["away"].labelled
    text = t.text()
    assert "empty seat read away: at most 3 samples in a row" in text and "cost per tick" in text


def test_flicker_per_seat_and_changes_to_another_state_at_a_labelled_change():
    times = [float(t) for t in range(0, 60, 2)]
    # M leaves at 20 with his things (label away); the seat reads empty at 24: the change comes
    # with the labelled one but to another state. N oscillates with no labelled change at all.
    labels = {"M": [(0.0, "occupied"), (20.0, "away")], "N": [(0.0, "empty")]}
    m = ["occupied"] * 12 + ["empty"] * 18
    n = ["empty"] * 10 + ["occupied"] * 5 + ["empty"] * 15
    r = score("s", times, {"M": m, "N": n}, labels, 2.0, lag_s=4.0)
    assert r.flicker == 3 and r.flicker_other_state == 1 and r.seat_flicker == {"M": 1, "N": 2}
    text = r.text()
    assert "flicker: 3 state changes not in the labels (1 of them when the labels change, to another state)" in text
    assert "seat M            10/28 right (36%), flicker 1" in text
    assert combine("all", [r, r]).flicker_other_state == 2
