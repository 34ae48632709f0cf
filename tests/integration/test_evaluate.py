"""`seat-edge evaluate` and the far-seat detection option, with the real offline person model on
real library CCTV frames (CPU; tiled / 1280 px inference is meant for where the GPU allows, the
code path is the same)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.commands.evaluate import (
    EvaluateError,
    Paste,
    Shift,
    load_sequence,
    render_step,
    run_sequence,
    score,
)
from edge_agent.seats.assign import match_seats
from edge_agent.settings import ModelSection, SeatsSection
from edge_agent.types import Detection, Frame
from edge_agent.vision.detector import Detector, merge_boxes, tile_windows
from protocol.messages import SeatDef

SEQ = Path(__file__).resolve().parents[1] / "data" / "sequences"
# A student at a far desk of f1-camera10 (about 60 x 110 px of 1280 x 720).
FAR = SeatDef(seat_id="F", channel=1, polygon=[(0.565, 0.17), (0.66, 0.17), (0.66, 0.36), (0.565, 0.36)])
SOFA = SeatDef(seat_id="S", channel=1, polygon=[(0.17, 0.22), (0.34, 0.22), (0.34, 0.47), (0.17, 0.47)])


def model(person_model_path, **kw) -> ModelSection:
    return ModelSection(weights=str(person_model_path), device="cpu", conf=0.3, person_classes=["Normal", "Fall"],
                        item_classes=[], **kw)


@pytest.fixture(scope="module")
def far_frame(library_samples):
    im = cv2.imread(str(library_samples / "f1-camera10.jpg"))
    assert im is not None
    return Frame(1, im, 0.0)


def test_far_seat_missed_at_640_found_with_tiles_or_1280(person_model_path, far_frame):
    """Failed before issue 12 (no tiles option). At imgsz 640 on the whole frame the far
    student is not found; with a 3x2 grid of crops, or at imgsz 1280, he is."""
    rules = SeatsSection()
    plain = Detector(model(person_model_path)).detect([far_frame])[0]
    assert match_seats([FAR, SOFA], plain.detections, rules)["F"].person is None
    assert match_seats([FAR, SOFA], plain.detections, rules)["S"].person is not None
    for extra in ({"tiles": [3, 2]}, {"imgsz": 1280}):
        got = Detector(model(person_model_path, **extra)).detect([far_frame])[0]
        m = match_seats([FAR, SOFA], got.detections, rules)
        assert m["F"].person is not None, extra
        assert m["S"].person is not None, extra
        # The near student is one box, not one per crop.
        near = [d for d in got.detections if d.box[0] < 0.35 and d.box[2] > 0.15 and d.box[1] < 0.3]
        assert len(near) == 1, (extra, near)


def test_tile_windows_cover_the_frame_with_overlap():
    wins = tile_windows(3, 2, 0.25)
    assert len(wins) == 6
    assert wins[0][0] == 0.0 and wins[-1][2] == pytest.approx(1.0) and wins[-1][3] == pytest.approx(1.0)
    # neighbours overlap by a quarter of a crop
    w = wins[0][2] - wins[0][0]
    assert wins[0][2] - wins[1][0] == pytest.approx(0.25 * w)
    assert tile_windows(1, 1, 0.25) == [(0.0, 0.0, 1.0, 1.0)]


def test_merge_boxes_keeps_best_and_drops_cut_parts():
    a = Detection("person", "Normal", 0.8, (0.1, 0.1, 0.3, 0.5))
    same = Detection("person", "Fall", 0.5, (0.11, 0.1, 0.3, 0.52))  # other class, same person
    part = Detection("person", "Normal", 0.6, (0.1, 0.35, 0.3, 0.5))  # lower part, cut by a crop edge
    bag = Detection("item", "backpack", 0.4, (0.1, 0.1, 0.3, 0.5))  # other kind: kept
    other = Detection("person", "Normal", 0.4, (0.6, 0.1, 0.7, 0.3))
    kept = merge_boxes([(same, False), (a, False), (part, True), (bag, False), (other, True)])
    assert kept == [a, other, bag] or kept == [a, bag, other]
    assert set(kept) == {a, bag, other}
    assert part in merge_boxes([(a, False), (part, False)])  # not cut: a real smaller box


# -- evaluate -------------------------------------------------------------------------------------

def test_score_lag_flicker_and_stay_error():
    times = [float(t) for t in range(0, 40, 2)]
    labels = {"A": [(0.0, "empty"), (10.0, "occupied"), (30.0, "empty")]}
    # Decides 4 s after each change (within lag 6), one spurious flip to away at 20-22.
    pred = []
    for t in times:
        s = "empty" if t < 14 or t >= 34 else "occupied"
        if t in (20.0, 22.0):
            s = "away"
        pred.append(s)
    r = score("x", times, {"A": pred}, labels, 2.0, lag_s=6.0)
    assert r.samples == 17  # t < lag is warm-up
    assert r.right == 15  # only the two "away" samples are wrong
    assert r.states["away"].precision == 0.0 and r.states["away"].labelled == 0
    assert r.flicker == 2  # occupied -> away and away -> occupied are not in the labels
    # Labelled stay 10..30 (20 s); the flicker split the predicted one into 14..20 and 24..34,
    # both overlapping it by 6 s: the first (6 s long) is matched, error 14 s.
    assert r.stays == 1 and r.stay_error_s == pytest.approx(14.0)
    with pytest.raises(EvaluateError, match="not in the layout"):
        score("x", times, {}, labels, 2.0, 6.0)


def test_render_ops_edit_only_their_regions(library_samples):
    im = cv2.imread(str(library_samples / "f1-camera9.jpg"))
    h, w = im.shape[:2]
    out = render_step(im, [Paste(box=[0.1, 0.7, 0.2, 0.8], to=[0.5, 0.1])], lambda n: im)
    diff = np.any(out != im, axis=2)
    ys, xs = np.nonzero(diff)
    assert xs.min() >= int(0.5 * w) - 1 and xs.max() <= int(0.6 * w) + 1
    assert ys.min() >= int(0.1 * h) - 1 and ys.max() <= int(0.2 * h) + 1
    np.testing.assert_array_equal(out[round(0.1 * h) + 5, round(0.5 * w) + 5], im[round(0.7 * h) + 5, round(0.1 * w) + 5])
    moved = render_step(im, [Shift(box=[0.3, 0.5, 0.4, 0.9], dx=0.05, dy=0.2)], lambda n: im)  # clipped at the bottom
    assert np.any(moved != im) and moved.shape == im.shape


def test_sequence_files_load_and_bad_ones_say_why(tmp_path):
    for p in SEQ.glob("*.json"):
        seq = load_sequence(p)
        assert seq.spec.labels and seq.times()
        for s in seq.spec.seats:
            assert s.seat_id in seq.spec.labels, (p.name, s.seat_id)
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "b", "seats": [{"seat_id": "A", "channel": 1, "polygon": [[0,0],[1,0],[1,1]],'
                   ' "desk": [[0,0],[2,0],[1,1]]}], "steps": [{"image": "x.jpg"}]}')
    with pytest.raises(EvaluateError, match="desk point 1"):
        load_sequence(bad)


def test_c9_sequence_chair_and_books_on_real_frames(person_model_path):
    """The labelled real sequence (chair pushed back, a book left and taken away). Before issue
    12 L1 was right 42% of the time (the chair read away, then abandoned) with 2 flickers."""
    det = Detector(model(person_model_path))
    r = run_sequence(load_sequence(SEQ / "c9-left-table.json"), det.detect)
    assert r.per_seat["L1"] == (124, 124)  # chair ignored, book seen, its removal reads empty
    assert r.per_seat["B"] == (124, 124)
    assert r.flicker == 0
    assert r.states["away"].precision == 1.0 and r.states["abandoned"].precision == 1.0


def test_evaluate_cli_far_seat_with_tiles(person_model_path):
    res = CliRunner().invoke(app, ["evaluate", str(SEQ / "c10-far-seat.json"), "--weights", str(person_model_path),
                                   "--person-class", "Normal", "--person-class", "Fall", "--conf", "0.3",
                                   "--device", "cpu", "--tiles", "3x2"])
    assert res.exit_code == 0, res.output
    assert "sequence c10-far-seat: 42 seat-samples, 100.0% right" in res.output
    assert "seat F            14/14 right" in res.output
    assert "flicker: 0" in res.output
    bad = CliRunner().invoke(app, ["evaluate", str(SEQ / "c10-far-seat.json"), "--tiles", "two"])
    assert bad.exit_code == 2 and "--tiles must look like 2x2" in bad.output


def test_label_csv_becomes_segments(tmp_path):
    from edge_agent.commands.evaluate import read_label_csv

    p = tmp_path / "labels.csv"
    p.write_text("t,seat_id,state\n0,A,empty\n2,A,empty\n4,A,occupied\n0,B,away\n6,A,empty\n")
    assert read_label_csv(p) == {"A": [(0.0, "empty"), (4.0, "occupied"), (6.0, "empty")], "B": [(0.0, "away")]}
    p.write_text("t,seat_id,state\n0,A,sleeping\n")
    with pytest.raises(EvaluateError, match="unknown state 'sleeping'"):
        read_label_csv(p)
