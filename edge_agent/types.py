"""In-process data passed along the edge pipeline (capture -> detect -> seats -> state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from protocol.messages import Evidence, SeatState

DetectionKind = Literal["person", "item"]


@dataclass(frozen=True, slots=True)
class Frame:
    """The newest decoded frame of a channel. ``captured_at`` is UNIX seconds when it was read
    off the stream (the best capture time we have; RTSP sender reports are not trusted)."""

    channel: int
    image: np.ndarray  # BGR, H x W x 3
    captured_at: float
    index: int = 0  # frames decoded on this channel since start

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector box in normalised 0..1 coordinates (x1, y1, x2, y2)."""

    kind: DetectionKind
    class_name: str
    conf: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FrameDetections:
    channel: int
    captured_at: float
    detections: list[Detection] = field(default_factory=list)
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Transition:
    """A confirmed seat state change, stamped with the capture time that confirmed it."""

    seat_id: str
    from_state: SeatState
    to_state: SeatState
    at: float
    evidence: Evidence
