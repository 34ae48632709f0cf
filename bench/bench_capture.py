"""Capture cost per channel: all frames (OpenCV) vs keyframes only (PyAV skip_frame).

Serves N channels of 640x360 H.264 from the real RTSP test server (GStreamer, separate
process, not counted) and measures this process's CPU while N ChannelReaders run.

    python -m bench.bench_capture [--seconds 6] [--channels16 16] [--channels-main 2] [--fps 10] [--gop 20]

Two scenes: "static" (one real CCTV frame, like an empty reading room: P-frames are nearly
empty) and "noisy" (the same frame with sensor-like noise and a moving block on every frame,
so every P-frame carries residuals). Prints figures only; no pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import Row, parser, report
from edge_agent.demo.rtsp_server import RtspTestServer
from edge_agent.settings import ChannelSection
from edge_agent.vision.capture import CaptureManager
from edge_agent.vision.sources import CaptureOptions

SAMPLE = REPO.parent / "shared" / "samples" / "library-cctv" / "f1-camera2.jpg"


def scene_frames(kind: str, tmp: Path, size: tuple[int, int], n: int = 20) -> list[Path]:
    base = cv2.imread(str(SAMPLE)) if SAMPLE.exists() else np.full((360, 640, 3), 120, np.uint8)
    base = cv2.resize(base, size, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n if kind == "noisy" else 1):
        img = base.astype(np.int16)
        if kind == "noisy":
            img += rng.normal(0, 4, img.shape).astype(np.int16)  # sensor noise
            x = 40 + i * 25
            img[size[1] // 3 : size[1] * 2 // 3, x : x + 60] = (60, 90, 200)  # someone walking past
        p = tmp / f"{kind}{i:03d}.jpg"
        cv2.imwrite(str(p), np.clip(img, 0, 255).astype(np.uint8))
        paths.append(p)
    return paths


def measure(n_channels: int, keyframes: bool, frames: list[Path], args) -> tuple[float, list[float]]:
    srv = RtspTestServer(
        channels=n_channels,
        width=args.width,
        height=args.height,
        fps=args.fps,
        gop=args.gop,
        sequence=frames if len(frames) > 1 else None,
    )
    if len(frames) == 1:
        for ch in range(1, n_channels + 1):
            srv.set_image(ch, frames[0])
    with srv:
        chans = [
            ChannelSection(id=c, url=srv.url(c), keyframes_only=keyframes) for c in range(1, n_channels + 1)
        ]
        mgr = CaptureManager(chans, CaptureOptions(fps_window_s=args.seconds))
        with mgr:
            deadline = time.monotonic() + 15
            while len(mgr.latest_frames(2.0)) < n_channels and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(args.gop / args.fps + 1)  # settle: past the first GOP and the open cost
            proc = psutil.Process()
            c0, t0 = proc.cpu_times(), time.monotonic()
            idx0 = {c: r.latest(5.0).index if r.latest(5.0) else 0 for c, r in mgr.readers.items()}
            time.sleep(args.seconds)
            c1, t1 = proc.cpu_times(), time.monotonic()
            fps = []
            for c, r in mgr.readers.items():
                f = r.latest(5.0)
                fps.append(((f.index if f else 0) - idx0[c]) / (t1 - t0))
    cpu = ((c1.user - c0.user) + (c1.system - c0.system)) / (t1 - t0) * 100
    return cpu, fps


def edge_rss(n_channels: int, frames: list[Path], args) -> float:
    """RSS (MB) of this process with n_channels readers running and the person model loaded and
    run once on a tick of their frames: the edge's big parts (SQLite, uplink and seat logic are
    small next to them)."""
    from edge_agent.settings import ModelSection
    from edge_agent.vision.detector import Detector, offline_person_model

    weights = offline_person_model()
    srv = RtspTestServer(channels=n_channels, width=args.width, height=args.height, fps=args.fps, gop=args.gop)
    for ch in range(1, n_channels + 1):
        srv.set_image(ch, frames[0])
    with srv:
        chans = [ChannelSection(id=c, url=srv.url(c), keyframes_only=True) for c in range(1, n_channels + 1)]
        with CaptureManager(chans, CaptureOptions()) as mgr:
            deadline = time.monotonic() + 20
            while len(mgr.latest_frames(5.0)) < n_channels and time.monotonic() < deadline:
                time.sleep(0.2)
            if weights is not None:
                det = Detector(ModelSection(weights=str(weights), person_classes=["Normal", "Fall"], item_classes=[],
                                            imgsz=640, max_batch=16))
                det.detect(list(mgr.latest_frames(5.0).values()))
            return psutil.Process().memory_info().rss / 2**20


def run(args) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        frames = scene_frames("static", Path(tmp), (args.width, args.height))
        sub = f"{args.width}x{args.height} {args.fps} fps"
        for keyframes in (False, True):
            cpu, fps = measure(args.channels16, keyframes, frames, args)
            mode = "keyframes only (PyAV)" if keyframes else "all frames decoded (OpenCV)"
            rows.append(Row("edge", f"capture CPU, {args.channels16} substreams, {mode}", cpu, "% of a core",
                            "<= 25", f"{sub}, static scene, {sum(fps) / len(fps):.2f} decoded fps/channel"))
        # The noisy scene: every P-frame carries residuals (sensor noise at night, people moving),
        # the worst case for decoding all frames and what a busy room's camera sends.
        noisy = scene_frames("noisy", Path(tmp), (args.width, args.height))
        for keyframes in (False, True):
            cpu, fps = measure(args.channels16, keyframes, noisy, args)
            mode = "keyframes only (PyAV)" if keyframes else "all frames decoded (OpenCV)"
            rows.append(Row("edge", f"capture CPU, {args.channels16} substreams, noisy scene, {mode}", cpu,
                            "% of a core", "<= 25",
                            f"{sub}, noise + a moving block on every frame, {sum(fps) / len(fps):.2f} decoded fps/channel"))
        main_args = argparse.Namespace(**{**vars(args), "width": 1280, "height": 720, "fps": 25, "gop": 50})
        mframes = scene_frames("static", Path(tmp), (1280, 720))
        for keyframes in (False, True):
            cpu, _ = measure(args.channels_main, keyframes, mframes, main_args)
            mode = "keyframes only" if keyframes else "all frames"
            rows.append(Row("edge", f"capture CPU, main streams 1280x720 25 fps, {mode}, scaled to 16",
                            cpu / args.channels_main * 16, "% of a core", "",
                            f"measured on {args.channels_main} channels ({cpu:.1f}%), x16/{args.channels_main}"))
        rss = edge_rss(args.channels16, frames, args)
        rows.append(Row("memory", f"edge RSS, {args.channels16} channels + person model after one tick", rss, "MB",
                        "< 2048", "capture readers (keyframes) + YOLO model on CPU"))
    return rows


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--channels16", type=int, default=16, help="substream channels for the headline figure")
    ap.add_argument("--channels-main", type=int, default=2, help="main-stream channels (scaled to 16)")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--gop", type=int, default=20, help="frames per keyframe (NVR default: 2 s)")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.channels16, args.channels_main = 1.0, 1, 1
    report(run(args), args.json)


if __name__ == "__main__":
    main()
