"""Issue 19 point 1: the demo's two-minute camera script, played through the real person model
(the offline one the demo uses) and the real seat engine, shows every state within two minutes
for each demo store: arrive / leave (A-01), away then abandoned then empty (B-02, from the desk's
empty reference taken at start, as `seat-edge reference` does), unknown while a camera is off
and back after it. No RTSP here (the e2e demo test has it): the frames are the script's pictures
at the capture times a 2-second sample interval gives; no state is ever set by hand."""

from __future__ import annotations

import cv2
import pytest

from edge_agent.demo.layout import CYCLE_S, DEMO_SEATS, REFERENCE_CHANNELS, SCENES, STORE_OFFSETS_S, scene_at
from edge_agent.demo.sample_camera import DEMO_RULES, offline_weights
from edge_agent.seats.engine import SeatEngine
from edge_agent.seats.rules import SeatRules
from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.detector import Detector

INTERVAL = 2.0


@pytest.fixture(scope="module")
def detections():
    """Detections of each picture, once (the pictures are stills: the model answers the same)."""
    weights, classes = offline_weights()
    det = Detector(ModelSection(weights=weights, person_classes=classes, item_classes=[], conf=0.4, imgsz=640))
    out = {}
    for ch, scenes in SCENES.items():
        for _, pic in scenes:
            if pic is not None and (ch, pic) not in out:
                img = cv2.resize(cv2.imread(str(pic)), (640, 360), interpolation=cv2.INTER_AREA)
                out[(ch, pic)] = (img, det.detect([Frame(ch, img, 0.0)])[0])
    return out


def play(detections, offset: float, seconds: float) -> list[tuple[float, str, str, str]]:
    engine = SeatEngine(list(DEMO_SEATS), DEMO_RULES, SeatRules(), now=0.0)
    history = []
    off_since: dict[int, float] = {}
    t = 0.0
    referenced = set()
    while t <= seconds:
        batch = []
        for ch in SCENES:
            pic = scene_at(ch, t + offset)
            if pic is None:  # camera off: the last frame goes stale after stale_after_s
                off_since.setdefault(ch, t)
                batch.append((ch, None, None, t) if t - off_since[ch] >= DEMO_RULES.stale_after_s else None)
                continue
            off_since.pop(ch, None)
            img, det = detections[(ch, pic)]
            frame = Frame(ch, img, t)
            if ch in REFERENCE_CHANNELS and ch not in referenced:
                engine.capture_reference(ch, frame, t)
                referenced.add(ch)
            batch.append((ch, frame, det, t))
        for tr in engine.observe_many([b for b in batch if b is not None]):
            history.append((tr.at, tr.seat_id, tr.from_state, tr.to_state))
        t += INTERVAL
    return history


@pytest.mark.parametrize("offset", STORE_OFFSETS_S)
def test_every_state_shows_within_two_minutes(detections, offset):
    # The first store shows every state within two minutes; the second (the same script 90 s
    # later) clears its belongings just after, at 2 min 0 s of its own time: give it 10 s more.
    history = play(detections, offset, CYCLE_S + (10 if offset else 0))
    print(offset, history)
    states = {}
    for _at, seat, _frm, to in history:
        states.setdefault(seat, []).append(to)
    assert {"occupied", "empty"} <= set(states.get("a01", [])), history  # arrives and leaves
    assert {"unknown"} <= set(states.get("a01", [])), history  # ch1 drops out
    b02 = states.get("b02", [])
    assert "away" in b02 and "abandoned" in b02, history
    assert b02.index("away") < b02.index("abandoned"), history
    assert "empty" in b02[b02.index("abandoned"):], history  # cleared
    assert set(states.get("b01", [])) - {"unknown"} == {"occupied"}, history  # the man who stays
    every = {to for _a, _s, _f, to in history}
    assert every >= {"empty", "occupied", "away", "abandoned", "unknown"}, history
