"""Blur people's faces in a picture before it leaves the store (ROI snapshots for the hub).

Two detectors, everything either finds is pixelated and blurred beyond recognition:
- the heads of the persons the edge's own detector found in that frame (top part of each person
  box): works for faces seen from the side or behind too, and needs nothing extra;
- OpenCV's Haar frontal-face cascade, where this OpenCV has it (the 4.x wheels bundle it in
  cv2.data; OpenCV 5 moved CascadeClassifier out to contrib, so with 5.x only the heads count).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from edge_agent.types import Detection

CASCADE = "haarcascade_frontalface_default.xml"
SEARCH = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
HEAD_FRACTION = 0.4  # the top 40% of a person box holds the head (standing, seated or leaning)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels


@lru_cache(maxsize=1)
def _haar():
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        return None
    for d in (getattr(getattr(cv2, "data", None), "haarcascades", ""), *SEARCH):
        p = os.path.join(d, CASCADE)
        if d and os.path.exists(p):
            det = cv2.CascadeClassifier(p)
            return None if det.empty() else det
    return None


def haar_available() -> bool:
    return _haar() is not None


def haar_faces(image: np.ndarray) -> list[Box]:
    import cv2

    det = _haar()
    if det is None:
        return []
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    side = max(20, min(image.shape[:2]) // 40)
    return [(int(x), int(y), int(x + w), int(y + h))
            for x, y, w, h in det.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))]


def head_boxes(detections: Iterable[Detection], width: int, height: int) -> list[Box]:
    out = []
    for d in detections:
        if d.kind != "person":
            continue
        x1, y1, x2, y2 = d.box
        out.append((int(x1 * width), int(y1 * height), int(x2 * width), int((y1 + (y2 - y1) * HEAD_FRACTION) * height)))
    return out


def blur_regions(image: np.ndarray, boxes: Iterable[Box], margin: float = 0.2) -> np.ndarray:
    """Pixelate (blocks of ~1/6 of the region) and blur each box, grown by ``margin``."""
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    for x0, y0, x1, y1 in boxes:
        mx, my = int((x1 - x0) * margin), int((y1 - y0) * margin)
        x0, y0, x1, y1 = max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        roi = out[y0:y1, x0:x1]
        small = cv2.resize(roi, (max(1, (x1 - x0) // 6), max(1, (y1 - y0) // 6)), interpolation=cv2.INTER_AREA)
        blocks = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(x1 - x0, y1 - y0) // 4) | 1)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(blocks, (k, k), 0)
    return out


def blur_faces(image: np.ndarray, detections: Iterable[Detection] = ()) -> tuple[np.ndarray, int]:
    """A copy with every head of a detected person and every Haar face blurred; and how many."""
    h, w = image.shape[:2]
    boxes = head_boxes(detections, w, h) + haar_faces(image)
    return blur_regions(image, boxes), len(boxes)


MAX_JPEG_BYTES = 900_000  # the hub refuses MQTT payloads over 1 MiB (protocol.limits)


def snapshot_jpeg(image: np.ndarray, detections: Iterable[Detection] = (), quality: int = 85,
                  max_bytes: int = MAX_JPEG_BYTES) -> tuple[bytes, int]:
    """Faces blurred, JPEG-encoded, under ``max_bytes`` (smaller quality, then size, if needed):
    what the edge may send to the hub."""
    import cv2

    blurred, n = blur_faces(image, detections)
    while True:
        ok, buf = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        if len(buf) <= max_bytes or min(blurred.shape[:2]) < 64:
            return buf.tobytes(), n
        if quality > 60:
            quality -= 15
        else:
            blurred = cv2.resize(blurred, (blurred.shape[1] * 3 // 4, blurred.shape[0] * 3 // 4),
                                 interpolation=cv2.INTER_AREA)
