"""Item boxes go with the desk-change evidence (issue 17, 2.): on a seat with an empty
reference, an item box over a desk that looks as it did empty is not belongings; without a
reference, or with the desk changed, it counts."""

from __future__ import annotations

import numpy as np

from edge_agent.seats.engine import SeatEngine
from edge_agent.settings import SeatsSection
from edge_agent.types import Detection, Frame, FrameDetections
from protocol.messages import SeatDef, StateRules

RULES = StateRules(enter_s=4.0, exit_s=4.0)
SEAT = SeatDef(seat_id="T", channel=1, polygon=[(0.2, 0.2), (0.8, 0.2), (0.8, 0.9), (0.2, 0.9)],
               desk=[(0.2, 0.2), (0.8, 0.2), (0.8, 0.6), (0.2, 0.6)])
UMBRELLA = Detection("item", "umbrella", 0.34, (0.3, 0.25, 0.7, 0.55))  # what the SSD saw on a bare table


def scene(book: bool) -> np.ndarray:
    rng = np.random.default_rng(3)
    img = rng.integers(60, 200, (90, 160, 3)).astype(np.uint8)
    img = np.repeat(np.repeat(img[::6, ::6], 6, 0), 6, 1)[:90, :160].copy()  # a textured desk
    if book:
        img[25:45, 60:100] = (30, 40, 160)
    return img


def run(eng: SeatEngine, image: np.ndarray, dets: list[Detection]) -> str:
    for t in range(0, 12, 2):
        eng.observe(1, Frame(1, image, float(t)), FrameDetections(1, float(t), dets), float(t))
    return eng.snapshots()[0].state


def test_an_item_box_on_a_desk_that_matches_its_empty_reference_is_not_belongings():
    eng = SeatEngine([SEAT], RULES, SeatsSection(still_person_threshold=0))
    eng.capture_reference(1, Frame(1, scene(False), 0.0), 0.0)
    assert run(eng, scene(False), [UMBRELLA]) == "empty"
    assert eng.last_evidence("T").item_count == 0


def test_with_the_desk_changed_or_without_reference_the_box_counts():
    eng = SeatEngine([SEAT], RULES, SeatsSection(still_person_threshold=0))
    eng.capture_reference(1, Frame(1, scene(False), 0.0), 0.0)
    assert run(eng, scene(True), [UMBRELLA]) == "away"
    assert eng.last_evidence("T").item_count == 1
    no_ref = SeatEngine([SEAT], RULES, SeatsSection(still_person_threshold=0))
    assert run(no_ref, scene(False), [UMBRELLA]) == "away"  # nothing else can tell
