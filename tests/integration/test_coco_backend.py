"""The offline COCO backend (``[model] type = "tflite"``) on real frames: the model that
scripts/setup.sh installs from npm, run by ai-edge-litert on CPU (nothing mocked)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.backends.tflite import OFFLINE_COCO, offline_coco_model, read_labels
from edge_agent.vision.detector import Detector, DetectorError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
COCO = ModelSection(type="tflite", weights=OFFLINE_COCO, conf=0.3)


@pytest.fixture(scope="module")
def coco() -> Detector:
    if offline_coco_model() is None:
        pytest.fail("the offline COCO model is missing: run `bash scripts/setup.sh`")
    return Detector(COCO)


def img(rel: str):
    im = cv2.imread(str(SHARED / rel))
    assert im is not None, rel
    return im


def test_finds_the_seated_person_where_he_sits(coco):
    # study-table-4chairs 0010: seated in chair C (back-right); README's seats in 1280x720.
    fd = coco.detect([Frame(channel=1, image=img("study-table-4chairs/frame_0010.jpg"), captured_at=5.0)])[0]
    persons = [d for d in fd.detections if d.kind == "person"]
    assert persons and max(d.conf for d in persons) > 0.8
    best = max(persons, key=lambda d: d.conf)
    cx = (best.box[0] + best.box[2]) / 2
    assert cx > 0.5  # he is on the right side of the table
    assert coco.device == "cpu" and fd.latency_ms > 0


def test_item_classes_come_out_as_items_with_tiles():
    # A library desk with a laptop and books (f1-camera2): the whole frame at 300x300 is too coarse
    # for desk items; 3x2 tiles let the model see them (issue 17: "tiles help").
    det = Detector(ModelSection(type="tflite", weights=OFFLINE_COCO, conf=0.25, tiles=[3, 2]))
    fd = det.detect([Frame(channel=1, image=img("library-cctv/f1-camera2.jpg"), captured_at=0.0)])[0]
    kinds = {(d.kind, d.class_name) for d in fd.detections}
    assert any(k == "item" for k, _ in kinds), kinds
    for d in fd.detections:
        assert d.class_name in COCO.item_classes + COCO.person_classes
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1


def test_crop_windows_map_boxes_back_to_the_frame(coco):
    # The person of table-3chairs 5.0 s, seen through an upscaled crop around him, lands where the
    # whole-frame pass puts him.
    im = img("table-3chairs/t05000ms.jpg")
    whole = [d for d in coco.detect([Frame(1, im, 0.0)])[0].detections if d.kind == "person"]
    assert whole
    ref = max(whole, key=lambda d: d.conf).box
    pad = 0.1
    win = (max(0.0, ref[0] - pad), max(0.0, ref[1] - pad), min(1.0, ref[2] + pad), min(1.0, ref[3] + pad))
    got = coco.detect_windows([Frame(1, im, 0.0)], [[win]], upscale=2.0)[0]
    persons = [d for d, _ in got if d.kind == "person"]
    assert persons
    b = max(persons, key=lambda d: d.conf).box
    assert abs((b[0] + b[2]) / 2 - (ref[0] + ref[2]) / 2) < 0.05
    assert abs((b[1] + b[3]) / 2 - (ref[1] + ref[3]) / 2) < 0.08


def test_labels_and_errors(tmp_path):
    names = read_labels(offline_coco_model().with_name("coco_labels.txt"))
    assert names[0] == "person" and names[72] == "laptop" and names[83] == "book"  # COCO's 90-id list
    with pytest.raises(DetectorError, match="model weights not found"):
        Detector(ModelSection(type="tflite", weights=str(tmp_path / "nothere.tflite")))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    (tmp_path / "coco_labels.txt").write_text("0 person\n")
    with pytest.raises(DetectorError, match="cannot load TFLite model"):
        Detector(ModelSection(type="tflite", weights=str(junk)))
    (tmp_path / "bad.txt").write_text("person zero\n")
    with pytest.raises(DetectorError, match="expected 'id name'"):
        read_labels(tmp_path / "bad.txt")
