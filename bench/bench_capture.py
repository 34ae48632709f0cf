"""Capture cost per channel: all frames (OpenCV) vs keyframes only (PyAV skip_frame).

Serves N channels of 640x360 H.264 from the real RTSP test server (GStreamer, separate
process, not counted) and measures this process's CPU while N ChannelReaders run.

    .venv/bin/python bench/bench_capture.py [--seconds 8] [--channels 1 4] [--fps 10] [--gop 20]
        [--width 640 --height 360] [--scenes static noisy]

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

from edge_agent.capture import CaptureManager, CaptureOptions
from edge_agent.config import ChannelSection
from edge_agent.rtsp_server import RtspTestServer

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--channels", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--gop", type=int, default=20, help="frames per keyframe (NVR default: 2 s)")
    ap.add_argument("--scenes", nargs="+", default=["static", "noisy"])
    args = ap.parse_args()
    print(
        f"machine: {psutil.cpu_count()} CPUs; stream {args.width}x{args.height} H.264 (x264 1 Mbit/s) "
        f"{args.fps} fps, keyframe every {args.gop} frames"
    )
    print(
        f"{'scene':7} {'channels':>8} {'mode':10} {'CPU % (process)':>16} {'CPU %/channel':>14} {'fps/channel':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for scene in args.scenes:
            frames = scene_frames(scene, Path(tmp), (args.width, args.height))
            for n in args.channels:
                for keyframes in (False, True):
                    cpu, fps = measure(n, keyframes, frames, args)
                    mode = "keyframes" if keyframes else "all"
                    print(
                        f"{scene:7} {n:8d} {mode:10} {cpu:16.1f} {cpu / n:14.1f} {sum(fps) / len(fps):12.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
