"""SeatEngine on real photos through the real person model (ultralytics on CPU; no mock).
Moved from tests/unit: a model run does not belong in the fast unit suite."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from edge_agent.seats.assign import seat_evidence
from edge_agent.seats.engine import SeatEngine
from edge_agent.settings import SeatsSection
from edge_agent.types import Detection, Frame, FrameDetections
from protocol.messages import SeatDef, StateRules

RULES = StateRules(enter_s=6.0, exit_s=20.0, abandoned_after_s=600.0)
SEAT_RULES = SeatsSection(still_person_threshold=0)
LABELS = Path(__file__).resolve().parent.parent / "data" / "labels" / "real_seats.json"


def states(eng: SeatEngine) -> dict[str, str]:
    return {s.seat_id: s.state for s in eng.snapshots()}


# -- real photos, real person model --------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cases(person_model_path, ultralytics_assets, library_samples):
    """Run the real person model once per labelled image (CPU, imgsz 640, conf 0.3)."""
    from ultralytics import YOLO

    model = YOLO(str(person_model_path))
    person_classes = {"Normal", "Fall"}  # this model's two classes are both persons
    spec = json.loads(LABELS.read_text())
    cases = []
    for ch, entry in enumerate(spec["images"], start=1):
        where, name = entry["source"].split(":")
        path = (ultralytics_assets if where == "ultralytics" else library_samples) / name
        image = cv2.imread(str(path))
        assert image is not None, f"cannot read {path}"
        r = model.predict(image, imgsz=640, conf=0.3, verbose=False)[0]
        detections = [
            Detection(kind="person", class_name=model.names[int(k)], conf=float(c), box=tuple(b))
            for b, c, k in zip(r.boxes.xyxyn.tolist(), r.boxes.conf.tolist(), r.boxes.cls.tolist())
            if model.names[int(k)] in person_classes
        ]
        seats = [
            SeatDef(seat_id=s["seat_id"], channel=ch, polygon=[tuple(p) for p in s["polygon"]])
            for s in entry["seats"]
        ]
        expect = {s["seat_id"]: s["expect"] for s in entry["seats"]}
        cases.append((entry["source"], ch, image, detections, seats, expect))
    return cases


def test_real_photos_person_seat_and_empty_seat(real_cases):
    assert len(real_cases) >= 3
    for source, _ch, _image, detections, seats, expect in real_cases:
        assert detections, f"{source}: the person model found nobody"
        ev = seat_evidence(seats, detections, SEAT_RULES)
        for sid, want in expect.items():
            got = "person" if ev[sid].person_overlap >= SEAT_RULES.person_overlap_min else "none"
            assert got == want, f"{source} {sid}: {ev[sid]}"
            if want == "person":
                assert ev[sid].person_conf >= 0.3


def test_real_photos_through_the_engine(real_cases):
    """The same frames sampled for 10 s: person seats become occupied, empty seats empty."""
    for source, ch, image, detections, seats, expect in real_cases:
        eng = SeatEngine(seats, RULES, SEAT_RULES)
        for t in range(0, 12, 2):
            eng.observe(ch, Frame(ch, image, float(t)), FrameDetections(ch, float(t), detections), float(t))
        want = {sid: ("occupied" if e == "person" else "empty") for sid, e in expect.items()}
        assert states(eng) == want, source


