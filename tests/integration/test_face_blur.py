"""Faces are blurred before a snapshot leaves the edge: a real picture with two faces
(ultralytics' zidane.jpg), the real person model on the CPU; hand-marked face boxes."""

from __future__ import annotations

import time

import cv2
import numpy as np

from edge_agent.demo.layout import OFFLINE_PERSON_CLASSES
from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.detector import Detector
from edge_agent.vision.face_blur import blur_faces, snapshot_jpeg

# Hand-marked in the 1280x720 picture: the two faces, and a tie far below both heads.
FACES = {"zidane": (510, 210, 670, 410), "ancelotti": (890, 40, 1070, 300)}
TIE = (400, 500, 520, 700)


def _sharpness(img: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(cv2.Laplacian(cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_faces_of_detected_people_are_blurred_and_the_rest_is_kept(person_model_path, ultralytics_assets):
    img = cv2.imread(str(ultralytics_assets / "zidane.jpg"))
    det = Detector(ModelSection(weights=str(person_model_path), device="cpu",
                                person_classes=list(OFFLINE_PERSON_CLASSES), item_classes=[]))
    found = det.detect([Frame(1, img, time.time())])[0].detections
    out, n = blur_faces(img, found)
    assert n >= 2
    for name, box in FACES.items():
        before, after = _sharpness(img, box), _sharpness(out, box)
        assert after < 0.1 * before, (name, before, after)  # detail gone: not recognisable
    x0, y0, x1, y1 = TIE
    assert np.array_equal(out[y0:y1, x0:x1], img[y0:y1, x0:x1])  # the desk-level scene stays sharp
    jpeg, n2 = snapshot_jpeg(img, found)
    assert jpeg[:2] == b"\xff\xd8" and n2 == n
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == img.shape
    assert _sharpness(decoded, FACES["ancelotti"]) < 0.1 * _sharpness(img, FACES["ancelotti"])


def test_no_people_detected_means_nothing_blurred():
    img = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    out, n = blur_faces(img, [])
    assert n == 0 and np.array_equal(out, img)  # (no Haar cascade in OpenCV 5; none finds noise)


def test_a_snapshot_stays_under_the_hubs_payload_limit():
    noise = np.random.default_rng(2).integers(0, 255, (2160, 3840, 3), dtype=np.uint8)  # 4K, incompressible
    jpeg, _ = snapshot_jpeg(noise, [])
    assert len(jpeg) <= 900_000 and jpeg[:2] == b"\xff\xd8"
