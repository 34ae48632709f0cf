"""Per-seat empty reference image and a lighting-robust change score (0..1).

A seat crop (the polygon's bounding box) is reduced to a small grey patch of fixed size, so
references survive a switch between main stream and substream. Comparison:

1. each patch is normalised on the pixels inside the polygon (zero mean, fixed spread), which
   cancels a global gain and offset (daylight, auto exposure);
2. a local SSIM map (Gaussian window, sigma 1.5) compares structure; its stabilising constants
   keep flat, noisy surfaces (an empty desk) from scoring as change;
3. the score is the mean of ``(1 - ssim) / 2`` over the polygon, clipped to 0..1. An object
   covering a fifth of the seat lifts it to roughly 0.1-0.2.

The reference is the seat's *desk zone* (``assign.desk_zone``): belongings lie there, and a
chair pushed back or turned in the rest of the seat must not read as belongings.

It never learns while anything may be on the desk. There is no running-average refresh: a book
left for an hour, whose change score hovers near the threshold, was slowly blended into the
"empty" desk by one, and the seat then read abandoned when the book was taken away. The
reference is (re)taken only

* on command (``capture_now``; ``seat-edge reference --channel N`` through the agent), or
* at the store's quiet time (``quiet_at_s``: seconds after local midnight, a window of
  ``quiet_window_s``), once per day, from a seat that has been confidently empty (state empty,
  no person, no items, no change against the old reference) for ``quiet_empty_s``, or
* opt-in, ``auto_after_s`` > 0: a seat that has *no* reference yet takes one after that long
  confidently empty (what an empty store at install looks like; a book lying there at that
  moment would be learned, so the default is off).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_agent.seats.geometry import Point, bounding_box

PATCH_SIZE = 64
_SPREAD = 40.0  # grey-level standard deviation every patch is normalised to
_STD_FLOOR = 20.0  # do not blow up the noise of an almost uniform crop (real seats: 40-90)
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class ReferenceRules:
    auto_after_s: float = 0.0  # > 0: a seat without reference takes one after this long empty
    quiet_at_s: float | None = None  # store quiet time, seconds after local midnight (None: off)
    quiet_window_s: float = 1800.0  # the quiet time lasts this long
    quiet_empty_s: float = 60.0  # confidently empty this long within the window -> re-learn
    utc_offset_s: float | None = None  # local time = UTC + this; None: the box's own time zone

    def local_day_s(self, t: float) -> tuple[int, float]:
        """(local day number, seconds after local midnight) of capture time ``t``."""
        if self.utc_offset_s is None:
            lt = time.localtime(t)
            off = float(lt.tm_gmtoff)
        else:
            off = self.utc_offset_s
        local = t + off
        day = int(local // 86400)
        return day, local - day * 86400

    def quiet_day(self, t: float) -> int | None:
        """The local day whose quiet window contains ``t``, or None outside every window."""
        if self.quiet_at_s is None:
            return None
        day, sec = self.local_day_s(t)
        since = (sec - self.quiet_at_s) % 86400  # the window may cross midnight
        if since < self.quiet_window_s:
            return day if sec >= self.quiet_at_s else day - 1
        return None


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
    """The empty reference of one seat and the timers that decide when to (re)learn it."""

    def __init__(self, rules: ReferenceRules = DEFAULT_REFERENCE_RULES) -> None:
        self.rules = rules
        self._ref: Patch | None = None
        self.taken_at: float | None = None  # capture time of the current reference
        self.taken_by: str | None = None  # "command", "quiet time" or "first empty"
        self._empty_since: float | None = None
        self._quiet_done: int | None = None  # local day whose quiet window re-learned already

    @property
    def patch(self) -> Patch | None:
        return self._ref

    @property
    def ready(self) -> bool:
        return self._ref is not None

    def score(self, current: Patch) -> float | None:
        return None if self._ref is None else change_score(self._ref, current)

    def capture_now(self, t: float, patch: Patch, by: str = "command") -> None:
        self._ref = Patch(grey=patch.grey.astype(np.float32, copy=True), mask=patch.mask.copy())
        self.taken_at = t
        self.taken_by = by

    def clear(self) -> None:
        self._ref = None
        self.taken_at = self.taken_by = None
        self._empty_since = None

    def observe(self, t: float, patch: Patch, confidently_empty: bool) -> bool:
        """Feed one sample after the seat's state was updated. Returns True when the reference
        was (re)taken. ``confidently_empty``: state empty, nobody, no items, no change."""
        if not confidently_empty:
            self._empty_since = None  # anything may be on the desk: never learn from it
            return False
        if self._empty_since is None:
            self._empty_since = t
        empty_for = t - self._empty_since
        r = self.rules
        if self._ref is None and r.auto_after_s > 0 and empty_for >= r.auto_after_s:
            self.capture_now(t, patch, by="first empty")
            return True
        day = r.quiet_day(t)
        if day is None or day == self._quiet_done:
            return False
        # Inside the window: the seat must be confidently empty for quiet_empty_s, counted from
        # the window's start at the earliest (the evening's empty stretch does not count).
        window_start = t - ((r.local_day_s(t)[1] - r.quiet_at_s) % 86400)
        if t - max(self._empty_since, window_start) >= r.quiet_empty_s:
            self.capture_now(t, patch, by="quiet time")
            self._quiet_done = day
            return True
        return False
