"""How far a channel's picture has moved from the one its desk references were taken on.

When a channel's references are taken, a small grey copy of the whole frame is kept. Each
sample is registered to it: phase correlation for the shift, then ECC (OpenCV's
``findTransformECC``, Euclidean: shift and roll) to refine it; both are zero-mean normalised,
so auto exposure and evening light do not move the estimate, and the whole room outweighs a
person walking through or a book on one desk (which is why it is not measured on the desks:
a desk with a book on it does not match its empty reference, and with one seat per channel
that would look like a bumped camera). The channel's drift is the median of the last few
measurements: one every ``EVERY`` samples, and one on every sample where a registered desk was
found away from its place (``Comparison.shifted``), so a moving camera is followed at once.
Beyond ``drift_tolerance`` (or a roll over ``MAX_ANGLE``) the desk references no
longer show the desks: the engine stops reading belongings from desk change on that channel
(the detector still works) and ``seat-edge status`` says "camera moved: redraw or re-take".
"""

from __future__ import annotations

import math
from collections import deque

import cv2
import msgspec
import numpy as np

WIDTH = 320  # the frame is registered at this width (a few ms per sample)
WINDOW = 3  # measurements the channel's drift is the median of
EVERY = 5  # a measurement every this many samples: a camera moves rarely, ECC costs 3-8 ms
MAX_ANGLE = 1.5  # degrees of roll beyond which the references are "moved" too


class ChannelDrift(msgspec.Struct, frozen=True):
    """One channel's drift, as stored for ``seat-edge status``."""

    channel: int
    dx: float  # fraction of the frame width (+ right)
    dy: float  # fraction of the frame width (+ down; width units, so dx and dy compare)
    angle: float  # degrees (+ counter-clockwise)
    beyond: bool  # further than the tolerance: redraw or re-take
    tolerance: float
    match: float = 1.0  # ECC correlation after registration (low: another scene, or lost)

    @property
    def size(self) -> float:
        return float(math.hypot(self.dx, self.dy))

    def text(self) -> str:
        where = f"{self.size:.1%} of the frame (dx {self.dx:+.1%}, dy {self.dy:+.1%}, roll {self.angle:+.1f} deg)"
        if self.beyond:
            return (f"camera moved {where}, more than the {self.tolerance:.0%} tolerance: redraw the seats "
                    f"or re-take the reference (seat-edge reference --channel {self.channel})")
        return f"picture drift {where}, within the {self.tolerance:.0%} tolerance"


def small_grey(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = grey.shape[:2]
    out = cv2.resize(grey, (WIDTH, max(8, int(round(h * WIDTH / w)))), interpolation=cv2.INTER_AREA)
    return out.astype(np.float32)


def register(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float, float]:
    """(dx, dy as fractions of the width, roll in degrees, correlation) that map ``ref`` onto
    ``cur`` (two ``small_grey`` images of the same size)."""
    win = cv2.createHanningWindow((ref.shape[1], ref.shape[0]), cv2.CV_32F)
    (sx, sy), _ = cv2.phaseCorrelate(ref, cur, win)
    warp = np.array([[1, 0, sx], [0, 1, sy]], np.float32)
    corr = 0.0
    try:
        corr, warp = cv2.findTransformECC(ref, cur, warp, cv2.MOTION_EUCLIDEAN,
                                          (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4), None, 5)
    except cv2.error:  # no convergence (another scene, a dark frame): the phase correlation stands
        pass
    w = ref.shape[1]
    angle = math.degrees(math.atan2(float(warp[1, 0]), float(warp[0, 0])))
    # the warp maps reference coordinates to the current frame's, about the top-left corner;
    # express the shift at the frame centre (a pure roll about the centre is then no shift)
    cx, cy = (ref.shape[1] - 1) / 2, (ref.shape[0] - 1) / 2
    mx = warp[0, 0] * cx + warp[0, 1] * cy + warp[0, 2] - cx
    my = warp[1, 0] * cx + warp[1, 1] * cy + warp[1, 2] - cy
    return float(mx) / w, float(my) / w, -angle, float(corr)


class DriftMeter:
    """The drift of one channel against the frame its references were taken on."""

    def __init__(self, reference: np.ndarray, tolerance: float) -> None:
        self.reference = small_grey(reference)
        self.tolerance = tolerance
        self._dx: deque[float] = deque(maxlen=WINDOW)
        self._dy: deque[float] = deque(maxlen=WINDOW)
        self._angle: deque[float] = deque(maxlen=WINDOW)
        self._match: deque[float] = deque(maxlen=WINDOW)
        self._samples = 0
        self._value: tuple[int, ChannelDrift | None] | None = None  # (channel, value) until the next measurement

    def add(self, image: np.ndarray, now: bool = False) -> None:
        """One sample; measured every ``EVERY`` samples, or ``now`` (a desk was found moved)."""
        self._samples += 1
        if (self._samples - 1) % EVERY and not now:
            return
        cur = small_grey(image)
        if cur.shape != self.reference.shape:  # another stream size: compare at the reference's
            cur = cv2.resize(cur, (self.reference.shape[1], self.reference.shape[0]), interpolation=cv2.INTER_AREA)
        dx, dy, angle, corr = register(self.reference, cur)
        self._dx.append(dx)
        self._dy.append(dy)
        self._angle.append(angle)
        self._match.append(corr)
        self._value = None

    def value(self, channel: int) -> ChannelDrift | None:
        if self._value is not None and self._value[0] == channel:
            return self._value[1]
        v = self._compute(channel)
        self._value = (channel, v)
        return v

    def _compute(self, channel: int) -> ChannelDrift | None:
        if not self._dx:
            return None
        dx, dy = float(np.median(self._dx)), float(np.median(self._dy))
        angle, match = float(np.median(self._angle)), float(np.median(self._match))
        beyond = math.hypot(dx, dy) > self.tolerance or abs(angle) > MAX_ANGLE
        return ChannelDrift(channel, round(dx, 5), round(dy, 5), round(angle, 3), bool(beyond), self.tolerance,
                            round(match, 3))
