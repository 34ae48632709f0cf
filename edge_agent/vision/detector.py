"""The shared detector: ONE model for all channels, run in batches (the front of the backends).

Which backend runs the model is ``[model] type`` (``vision/backends/``, one file each:
``ultralytics`` by default, ``tflite`` for the offline COCO model). This front is the same for
all: batching by frame size, tiles, class mapping, per-class thresholds and merging.

Which model classes mean "person" and which mean "belongings" is configuration (models
differ: COCO has 'person', the offline fall-detection model has 'Normal'/'Fall'). Device
choice is automatic and explains itself: a GTX 1060 (sm_61) with a torch build that lacks
Pascal kernels falls back to CPU with a message saying what to install.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from edge_agent.settings import ModelSection
from edge_agent.types import Detection, DetectionKind, Frame, FrameDetections
from edge_agent.vision.backends import BackendError, RawBox, backend_module
from edge_agent.vision.backends.ultralytics import (  # noqa: F401 - the names callers know
    WEIGHT_SUFFIXES,
    load_model,
    offline_person_model,
)
from edge_agent.vision.plan import DEFAULT_GRID, ChannelPlan, plan_channel, tile_windows  # noqa: F401

log = logging.getLogger(__name__)

DetectorError = BackendError  # one error type: "the detector cannot be set up as configured"


# ------------------------------------------------------------------------------------- device
@dataclass(frozen=True, slots=True)
class DeviceChoice:
    device: str  # "cpu" or "cuda:N"
    half: bool
    warning: str | None = None  # shown to the installer when the GPU could not be used


def _arch_supported(cap: tuple[int, int], arch_list: list[str]) -> bool:
    """CUDA cubins for sm_XY run on devices X.Z with Z >= Y; PTX (compute_XY) JIT-compiles for
    any device at least X.Y."""
    major, minor = cap
    for arch in arch_list:
        kind, _, num = arch.partition("_")
        if not num.isdigit():
            continue
        a_major, a_minor = int(num[:-1]), int(num[-1])
        if kind == "sm" and a_major == major and a_minor <= minor:
            return True
        if kind == "compute" and (a_major, a_minor) <= cap:
            return True
    return False


def _half_helps(cap: tuple[int, int]) -> bool:
    # Pascal consumer cards (sm_61: GTX 10xx) run FP16 at 1/64 rate: half is slower there.
    # From Volta (7.0) on, tensor cores make it roughly twice as fast; P100 (6.0) is fast too.
    return cap >= (7, 0) or cap == (6, 0)


def choose_device(requested: str = "auto", half: str = "auto", cuda: Any = None) -> DeviceChoice:
    """Pick the inference device. ``cuda`` is ``torch.cuda`` (injectable for tests)."""
    if cuda is None:
        import torch

        cuda = torch.cuda
    requested = requested.strip().lower()
    if half not in ("auto", "on", "off"):
        raise DetectorError(f"model.half must be auto, on or off, got {half!r}")
    if requested == "cpu":
        warn = "half precision is only used on CUDA; running FP32 on CPU" if half == "on" else None
        return DeviceChoice("cpu", False, warn)
    if requested != "auto" and not requested.startswith("cuda"):
        raise DetectorError(f"model.device must be auto, cpu, cuda or cuda:N, got {requested!r}")

    index = int(requested.split(":", 1)[1]) if ":" in requested else 0
    if not cuda.is_available():
        if requested != "auto":
            raise DetectorError(
                f"model.device = {requested!r} but CUDA is not available (no NVIDIA driver, or a CPU-only "
                'torch build): install the NVIDIA driver and a CUDA build of torch, or set device = "auto"'
            )
        return DeviceChoice("cpu", False, None)

    cap = tuple(cuda.get_device_capability(index))
    name = cuda.get_device_name(index)
    sm = f"sm_{cap[0]}{cap[1]}"
    arch_list = list(cuda.get_arch_list())
    if not _arch_supported(cap, arch_list):
        msg = (
            f"GPU {name} ({sm}) is not supported by the installed torch build (it has kernels for "
            f"{', '.join(arch_list) or 'no architectures'}). Install a torch build compiled with {sm} "
            f"(for Pascal/GTX 10xx, sm_61: a CUDA 11.8 or 12.6 wheel from download.pytorch.org, e.g. "
            f"pip install torch torchvision --index-url https://download.pytorch.org/whl/cu126), or export "
            f"the model to ONNX/TensorRT (yolo export format=onnx / format=engine) and point model.weights "
            f"at it."
        )
        if requested != "auto":
            raise DetectorError(msg)
        return DeviceChoice("cpu", False, msg + " Running on CPU meanwhile (much slower).")

    use_half = half == "on" or (half == "auto" and _half_helps(cap))
    return DeviceChoice(f"cuda:{index}", use_half, None)


def describe_device(model_cfg: ModelSection | None = None) -> str:
    """A few lines for ``seat-edge status``: torch build, GPU, and what the detector will use."""
    import torch

    lines = [f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none, CPU-only'})"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            lines.append(f"cuda:{i} {torch.cuda.get_device_name(i)} sm_{major}{minor}")
        lines.append(f"torch kernels for: {', '.join(torch.cuda.get_arch_list())}")
    else:
        lines.append("CUDA not available")
    cfg = model_cfg or ModelSection()
    try:
        choice = choose_device(cfg.device, cfg.half)
        lines.append(f"detector device: {choice.device}{' (half precision)' if choice.half else ''}")
        if choice.warning:
            lines.append(f"warning: {choice.warning}")
    except DetectorError as exc:
        lines.append(f"error: {exc}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- class mapping
@dataclass(frozen=True, slots=True)
class ClassMap:
    """Model class id -> (name, kind, confidence threshold) for the classes we keep."""

    classes: dict[int, tuple[str, DetectionKind, float]]

    @property
    def ids(self) -> list[int]:
        return sorted(self.classes)

    @property
    def min_conf(self) -> float:
        return min(c for _, _, c in self.classes.values())


def build_class_map(names: dict[int, str], cfg: ModelSection) -> ClassMap:
    """Match configured class names against the model's (case-insensitive)."""
    by_name = {n.lower(): i for i, n in names.items()}
    have = ", ".join(repr(n) for n in names.values())
    persons = [by_name[n.lower()] for n in cfg.person_classes if n.lower() in by_name]
    if not persons:
        hint = ""
        if all(n.isdigit() for n in names.values()):
            hint = " (only numbered classes: an untrained model built from YAML? use trained weights)"
            have = f"'0' .. '{len(names) - 1}'"
        raise DetectorError(
            f"none of model.person_classes {cfg.person_classes} is a class of this model; it has: {have}{hint}"
        )
    missing = [n for n in cfg.person_classes + cfg.item_classes if n.lower() not in by_name]
    if missing:
        log.warning("model has no classes %s (ignored); it has: %s", missing, have)
    for name, conf in cfg.class_conf.items():
        if name.lower() not in by_name:
            raise DetectorError(
                f"model.class_conf names {name!r}, which is not a class of this model; it has: {have}"
            )
        if not 0.0 <= conf <= 1.0:
            raise DetectorError(f"model.class_conf[{name!r}] = {conf} is not within 0..1")
    conf_of = {k.lower(): v for k, v in cfg.class_conf.items()}
    out: dict[int, tuple[str, DetectionKind, float]] = {}
    for kind, wanted in (("item", cfg.item_classes), ("person", cfg.person_classes)):  # person wins a clash
        base = cfg.item_conf if kind == "item" and cfg.item_conf is not None else cfg.conf
        for n in wanted:
            i = by_name.get(n.lower())
            if i is not None:
                out[i] = (names[i], kind, conf_of.get(names[i].lower(), base))
    return ClassMap(out)


# ----------------------------------------------------------------------------------- detector
class Detector:
    """One model instance for every channel. ``detect()`` is thread-safe (serialised)."""

    def __init__(self, model_cfg: ModelSection, *, model: Any = None, cuda: Any = None) -> None:
        if model_cfg.max_batch < 1:
            raise DetectorError(f"model.max_batch must be >= 1, got {model_cfg.max_batch}")
        self.cfg = model_cfg
        mod = backend_module(model_cfg.type)
        if getattr(mod, "USES_TORCH_DEVICE", True):
            self.choice = choose_device(model_cfg.device, model_cfg.half, cuda)
        else:
            self.choice = DeviceChoice("cpu", False, None)
        if self.choice.warning:
            log.warning("%s", self.choice.warning)
        self.backend = mod.create(model_cfg, self.choice.device, self.choice.half, model=model)
        self.class_map = build_class_map(self.backend.names, model_cfg)
        self._lock = threading.Lock()
        # Per channel, crops around far seats (normalised windows) that get their own model pass;
        # set from the seat layout (``vision.plan.plan_channel``) by the agent and `evaluate`.
        self.crop_windows: dict[int, list[tuple[float, float, float, float]]] = {}

    @property
    def device(self) -> str:
        return self.choice.device

    @property
    def input_px(self) -> int:
        """The model's input size: ``imgsz`` (letterboxed), or a backend's fixed input."""
        return int(getattr(self.backend, "input_px", None) or self.cfg.imgsz)

    def plan_for(self, channel: int, seats: list, frame_w: int, frame_h: int) -> ChannelPlan:
        """Decide (``vision.plan``) and use the extra passes the channel's far seats need."""
        cols, rows = self.cfg.tiles
        p = plan_channel(channel, seats, frame_w, frame_h, self.input_px,
                         letterbox=getattr(self.backend, "letterbox", True),
                         grid=(cols, rows) if cols * rows > 1 else DEFAULT_GRID, overlap=self.cfg.tile_overlap)
        if p.windows:
            self.crop_windows[channel] = list(p.windows)
        else:
            self.crop_windows.pop(channel, None)
        return p

    @property
    def model(self) -> Any:
        """The backend's model object (ultralytics: the ``YOLO``), for tests and tools."""
        return getattr(self.backend, "model", self.backend)

    def detect(self, frames: list[Frame]) -> list[FrameDetections]:
        """Detections per frame, in input order; one ``predict`` call per ``max_batch`` frames
        of the same size. Frames of different sizes go to separate batches: a mixed batch is
        letterboxed to a square and gives other boxes than the frame alone would."""
        out: list[FrameDetections | None] = [None] * len(frames)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(f.image.shape, []).append(i)
        step = self.cfg.max_batch
        with self._lock:
            for idx in by_shape.values():
                for start in range(0, len(idx), step):
                    chunk = idx[start : start + step]
                    for i, fd in zip(chunk, self._detect_batch([frames[i] for i in chunk]), strict=True):
                        out[i] = fd
        return out  # type: ignore[return-value]

    def _predict(self, images: list) -> list[list[RawBox]]:
        # the backend filters at the lowest threshold, ``_keep`` applies the per-class ones
        return self.backend.predict(images, imgsz=self.cfg.imgsz, conf=self.class_map.min_conf,
                                    classes=self.class_map.ids)

    def _keep(self, boxes: list[RawBox], window: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
              ) -> list[Detection]:
        """The configured classes of one image's boxes, mapped from ``window`` (a crop, in
        normalised frame coordinates) back to the frame."""
        cmap = self.class_map
        wx1, wy1, wx2, wy2 = window
        sx, sy = wx2 - wx1, wy2 - wy1
        dets = []
        for xyxy, cls, conf in boxes:
            entry = cmap.classes.get(int(cls))
            if entry is None or conf < entry[2]:
                continue
            name, kind, _ = entry
            x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in xyxy)
            box = (wx1 + x1 * sx, wy1 + y1 * sy, wx1 + x2 * sx, wy1 + y2 * sy)
            dets.append(Detection(kind, name, float(conf), box))  # type: ignore[arg-type]
        return dets

    def detect_windows(self, frames: list[Frame], windows: list[list[tuple[float, float, float, float]]],
                       upscale: float = 1.0) -> list[list[tuple[Detection, bool]]]:
        """The model on crops of each frame (``windows[i]`` for frame i, normalised boxes), boxes
        mapped back to the frame with a flag "cut by a crop border". ``upscale`` > 1 enlarges small
        crops first (far seats), so a model with a fixed or small input sees them bigger."""
        import cv2

        crops, owner = [], []
        for fi, f in enumerate(frames):
            h, w = f.image.shape[:2]
            for win in windows[fi]:
                x1, y1 = int(round(win[0] * w)), int(round(win[1] * h))
                x2, y2 = max(x1 + 1, int(round(win[2] * w))), max(y1 + 1, int(round(win[3] * h)))
                crop = f.image[y1:y2, x1:x2]
                if upscale > 1.0:
                    crop = cv2.resize(crop, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
                crops.append(crop)
                owner.append((fi, (x1 / w, y1 / h, x2 / w, y2 / h)))
        found: list[list[tuple[Detection, bool]]] = [[] for _ in frames]
        step = self.cfg.max_batch
        # Crops of different sizes batch separately (see ``detect``).
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for k, c in enumerate(crops):
            by_shape.setdefault(c.shape, []).append(k)
        for ks in by_shape.values():
            for start in range(0, len(ks), step):
                chunk = ks[start : start + step]
                for k, boxes in zip(chunk, self._predict([crops[k] for k in chunk]), strict=True):
                    fi, win = owner[k]
                    for d in self._keep(boxes, win):
                        if _covers_window(d.box, win):
                            continue  # a box over the whole crop: a known artefact on crops
                        found[fi].append((d, _cut_by_window(d.box, win)))
        return found

    def _detect_batch(self, frames: list[Frame]) -> list[FrameDetections]:
        t0 = time.perf_counter()
        per_frame = [self._keep(boxes) for boxes in self._predict([f.image for f in frames])]
        extra: list[list[tuple[Detection, bool]]] = [[] for _ in frames]
        cols, rows = self.cfg.tiles
        if cols * rows > 1:
            windows = tile_windows(cols, rows, self.cfg.tile_overlap)
            for fi, got in enumerate(self.detect_windows(frames, [windows] * len(frames))):
                extra[fi] += got
        if self.crop_windows:
            wins = [self.crop_windows.get(f.channel, []) for f in frames]
            if any(wins):
                for fi, got in enumerate(self.detect_windows(frames, wins)):
                    extra[fi] += got
        if any(extra):
            per_frame = [merge_boxes([(d, False) for d in full] + more)
                         for full, more in zip(per_frame, extra, strict=True)]
        # Every frame of a batch waited for the whole batch: that is its latency.
        latency_ms = (time.perf_counter() - t0) * 1000.0
        return [FrameDetections(f.channel, f.captured_at, dets, latency_ms)
                for f, dets in zip(frames, per_frame, strict=True)]


# ------------------------------------------------------------------------------------ tiling
_EDGE = 0.01  # normalised distance that counts as "at the crop border"


def _covers_window(box, win) -> bool:
    bw, bh = box[2] - box[0], box[3] - box[1]
    ww, wh = win[2] - win[0], win[3] - win[1]
    return bw * bh >= 0.6 * ww * wh


def _cut_by_window(box, win) -> bool:
    """The box touches a crop border that is inside the frame: it may show part of an object."""
    return ((win[0] > 0 and box[0] - win[0] < _EDGE) or (win[2] < 1 and win[2] - box[2] < _EDGE)
            or (win[1] > 0 and box[1] - win[1] < _EDGE) or (win[3] < 1 and win[3] - box[3] < _EDGE))


def _iou_and_cover(a, b) -> tuple[float, float]:
    """IoU of two boxes and the share of ``b`` inside ``a``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0, 0.0
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = area_a + area_b - inter
    return (inter / union if union > 0 else 0.0), (inter / area_b if area_b > 0 else 0.0)


def merge_boxes(found: list[tuple[Detection, bool]], iou: float = 0.5, cover: float = 0.8) -> list[Detection]:
    """Greedy NMS per kind (person / item: the offline model's Normal and Fall are one person)
    over the whole-frame and crop boxes, best score first. A crop box cut by a crop border is
    also dropped when ``cover`` of it lies inside a kept box (it is part of that object)."""
    kept: list[Detection] = []
    for d, cut in sorted(found, key=lambda x: -x[0].conf):
        dup = False
        for k in kept:
            if k.kind != d.kind:
                continue
            i, c = _iou_and_cover(k.box, d.box)
            if i > iou or (cut and c > cover):
                dup = True
                break
        if not dup:
            kept.append(d)
    return kept
