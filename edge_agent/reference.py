"""Per-seat empty reference image and a lighting-robust change score (0..1).

A seat crop (the polygon's bounding box) is reduced to a small grey patch of fixed size, so
references survive a switch between main stream and substream. Comparison:

1. each patch is normalised on the pixels inside the polygon (zero mean, fixed spread), which
   cancels a global gain and offset (daylight, auto exposure);
2. a local SSIM map (Gaussian window, sigma 1.5) compares structure; its stabilising constants
   keep flat, noisy surfaces (an empty desk) from scoring as change;
3. the score is the mean of ``(1 - ssim) / 2`` over the polygon, clipped to 0..1. An object
   covering a fifth of the seat lifts it to roughly 0.1-0.2.

The reference is taken automatically once the seat has been confidently empty (state empty, no
person, no items) for ``auto_after_s`` of capture time, then refreshed by a slow running
average while it stays empty, and can be set on demand (``capture_now``, used by
``seat-edge reference``). A reference never learns from a sample with a person or items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.geometry import Point, bounding_box

PATCH_SIZE = 64
_SPREAD = 40.0  # grey-level standard deviation every patch is normalised to
_STD_FLOOR = 20.0  # do not blow up the noise of an almost uniform crop (real seats: 40-90)
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class ReferenceRules:
    auto_after_s: float = 60.0  # confidently empty this long -> take the reference
    refresh_alpha: float = 0.05  # weight of a new empty sample in the running average
    refresh_every_s: float = 30.0  # at most one refresh per this much capture time


DEFAULT_REFERENCE_RULES = ReferenceRules()


@dataclass(frozen=True, slots=True)
class Patch:
    grey: np.ndarray  # float32 PATCH_SIZE x PATCH_SIZE, raw grey levels
    mask: np.ndarray  # bool PATCH_SIZE x PATCH_SIZE, inside the seat polygon


def seat_patch(image: np.ndarray, polygon: Sequence[Point], size: int = PATCH_SIZE) -> Patch:
    """Crop the polygon's bounding box from a BGR (or grey) frame into a fixed-size patch."""
    h, w = image.shape[:2]
    bx1, by1, bx2, by2 = bounding_box(polygon)
    x1 = min(max(int(np.floor(bx1 * w)), 0), w - 1)
    y1 = min(max(int(np.floor(by1 * h)), 0), h - 1)
    x2 = max(min(int(np.ceil(bx2 * w)), w), x1 + 1)
    y2 = max(min(int(np.ceil(by2 * h)), h), y1 + 1)
    crop = image[y1:y2, x1:x2]
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    # Polygon in patch pixel coordinates.
    sx, sy = size / (x2 - x1), size / (y2 - y1)
    pts = np.array([[(px * w - x1) * sx, (py * h - y1) * sy] for px, py in polygon], dtype=np.float32)
    mask8 = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask8, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    mask = mask8.astype(bool)
    if not mask.any():  # a sliver polygon: use the whole crop rather than nothing
        mask[:] = True
    return Patch(grey=grey, mask=mask)


def _normalise(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    vals = grey[mask]
    mean = float(vals.mean())
    std = max(float(vals.std()), _STD_FLOOR)
    out = (grey - mean) * (_SPREAD / std) + 128.0
    out[~mask] = 128.0  # outside the polygon: identical in both patches, so it never scores
    return out


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / (
        (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    )


def change_score(reference: Patch, current: Patch) -> float:
    """0 = same scene (up to lighting), 1 = completely different, inside the seat polygon."""
    if reference.grey.shape != current.grey.shape:
        raise ValueError(f"patch sizes differ: {reference.grey.shape} vs {current.grey.shape}")
    mask = reference.mask & current.mask
    if not mask.any():
        return 0.0
    a = _normalise(reference.grey, mask)
    b = _normalise(current.grey, mask)
    s = _ssim_map(a, b)
    return float(np.clip(((1.0 - s[mask]) / 2.0).mean(), 0.0, 1.0))


class SeatReference:
    """The empty reference of one seat and the timer that decides when to (re)learn it."""

    def __init__(self, rules: ReferenceRules = DEFAULT_REFERENCE_RULES) -> None:
        self.rules = rules
        self._ref: Patch | None = None
        self.taken_at: float | None = None  # capture time of the first (or on-demand) reference
        self.refreshed_at: float | None = None
        self._empty_since: float | None = None

    @property
    def patch(self) -> Patch | None:
        return self._ref

    @property
    def ready(self) -> bool:
        return self._ref is not None

    def score(self, current: Patch) -> float | None:
        return None if self._ref is None else change_score(self._ref, current)

    def capture_now(self, t: float, patch: Patch) -> None:
        self._ref = Patch(grey=patch.grey.astype(np.float32, copy=True), mask=patch.mask.copy())
        self.taken_at = self.refreshed_at = t

    def clear(self) -> None:
        self._ref = None
        self.taken_at = self.refreshed_at = None
        self._empty_since = None

    def observe(self, t: float, patch: Patch, confidently_empty: bool) -> bool:
        """Feed one sample after the seat's state was updated. Returns True when the reference
        was taken or refreshed."""
        if not confidently_empty:
            self._empty_since = None
            return False
        if self._empty_since is None:
            self._empty_since = t
        if t - self._empty_since < self.rules.auto_after_s:
            return False
        if self._ref is None:
            self.capture_now(t, patch)
            return True
        if self.refreshed_at is not None and t - self.refreshed_at < self.rules.refresh_every_s:
            return False
        a = self.rules.refresh_alpha
        grey = (1.0 - a) * self._ref.grey + a * patch.grey
        self._ref = Patch(grey=grey.astype(np.float32), mask=self._ref.mask)
        self.refreshed_at = t
        return True
