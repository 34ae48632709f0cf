"""`seat-edge replay`: recorded footage through the detector and the seat state machine.

Samples are spaced ``interval`` seconds of simulated time (t = 0, interval, 2*interval, ...), so
hysteresis and the abandoned timer behave as they would live. A folder gives one sample per image
in name order; a video gives the frame nearest to each sample time. stdout carries one JSON object
per sample and nothing else; progress and the accuracy table go to stderr.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_agent.settings import EdgeConfig
from edge_agent.vision.sources import IMAGE_SUFFIXES
from protocol.messages import SEAT_STATES


class ReplayError(RuntimeError):
    pass


def iter_samples(source: Path, interval: float) -> Iterator[tuple[float, np.ndarray]]:
    import cv2

    if interval <= 0:
        raise ReplayError("--interval must be > 0")
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ReplayError(f"no images in {source}")
        for i, p in enumerate(files):
            img = cv2.imread(str(p))
            if img is None:
                raise ReplayError(f"cannot read image {p}")
            yield i * interval, img
        return
    if not source.exists():
        raise ReplayError(f"{source} does not exist")
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise ReplayError(f"cannot open video {source} (not a video OpenCV can decode)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if fps <= 0:
        fps = 25.0  # containers without a rate: assume PAL-ish CCTV
    try:
        i, frame_no = 0, 0
        while True:
            target = round(i * interval * fps)
            ok, img = True, None
            while frame_no <= target and ok:  # read forward: seeking is unreliable in many CCTV files
                ok, img = cap.read()
                frame_no += 1
            if not ok or img is None:
                return
            yield i * interval, img
            i += 1
    finally:
        cap.release()


@dataclass
class Accuracy:
    total: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    right: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, seat_id: str, truth: str, predicted: str) -> None:
        self.total[(seat_id, truth)] += 1
        self.right[(seat_id, truth)] += truth == predicted

    def table(self) -> str:
        lines = [f"{'seat':<12} {'state':<10} {'samples':>7} {'right':>6} {'accuracy':>9}"]
        for key in sorted(self.total):
            n, r = self.total[key], self.right[key]
            lines.append(f"{key[0]:<12} {key[1]:<10} {n:>7} {r:>6} {r / n:>9.1%}")
        n, r = sum(self.total.values()), sum(self.right.values())
        if n:
            lines.append(f"{'all':<12} {'':<10} {n:>7} {r:>6} {r / n:>9.1%}")
        return "\n".join(lines)


def read_labels(path: Path) -> dict[float, dict[str, str]]:
    out: dict[float, dict[str, str]] = defaultdict(dict)
    try:
        with path.open(newline="") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                try:
                    t, seat, state = float(row["t"]), row["seat_id"].strip(), row["state"].strip()
                except (KeyError, TypeError, ValueError):
                    raise ReplayError(f"{path}:{n}: expected columns t,seat_id,state") from None
                if state not in SEAT_STATES:
                    raise ReplayError(f"{path}:{n}: unknown state {state!r} (one of {', '.join(SEAT_STATES)})")
                out[round(t, 3)][seat] = state
    except OSError as exc:
        raise ReplayError(f"cannot read labels {path}: {exc}") from None
    return out


def run_replay(cfg: EdgeConfig, channel: int, source: Path, interval: float, labels: Path | None,
               out=None, err=None) -> Accuracy | None:
    from edge_agent.seats.engine import SeatEngine
    from edge_agent.types import Frame
    from edge_agent.vision.detector import Detector

    out = out or sys.stdout
    err = err or sys.stderr
    if channel not in [c.id for c in cfg.channels]:
        raise ReplayError(f"channel {channel} is not in the config")
    seats = [s for s in cfg.seats if s.channel == channel]
    if not seats:
        raise ReplayError(f"no seats on channel {channel} in the config")
    truth = read_labels(labels) if labels else None
    engine = SeatEngine(seats, cfg.state, cfg.seat_rules, timezone=cfg.edge.timezone, now=0.0)
    detector = Detector(cfg.model)
    acc = Accuracy() if truth is not None else None
    batch: list[tuple[float, np.ndarray]] = []
    count = 0

    def flush() -> None:
        nonlocal count
        frames = [Frame(channel=channel, image=img, captured_at=t, index=count + i) for i, (t, img) in enumerate(batch)]
        for frame, det in zip(frames, detector.detect(frames)):
            engine.observe(channel, frame, det, frame.captured_at)
            states = {s.seat_id: s.state for s in engine.snapshots()}
            out.write(json.dumps({"t": round(frame.captured_at, 3), "seats": states}) + "\n")
            if acc is not None:
                for seat_id, state in truth.get(round(frame.captured_at, 3), {}).items():
                    acc.add(seat_id, state, states.get(seat_id, "unknown"))
        out.flush()
        count += len(frames)
        err.write(f"\rreplay: {count} samples ({count * interval:.0f} s simulated)")
        err.flush()
        batch.clear()

    for t, img in iter_samples(source, interval):
        batch.append((t, img))
        if len(batch) >= cfg.model.max_batch:
            flush()
    if batch:
        flush()
    err.write("\n")
    if acc is not None:
        err.write(acc.table() + "\n")
    return acc
