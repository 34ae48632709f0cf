"""Per-seat empty reference image and a lighting-robust change score (0..1).

A seat crop (the polygon's bounding box) is reduced to a small grey patch of fixed size, so
references survive a switch between main stream and substream. Comparison:

0. the current desk patch is first *registered* to the reference (``compare``): found again
   within a search window (``[seat_rules] drift_tolerance`` plus 1% of the frame width on each
   side, turned by up to 1 degree), so a camera that sways, is bumped a little or rolls does
   not make empty desks read "away"; where it was found is the seat's drift, and the drift of a
   channel's seats is the channel's (``drift.ChannelDrift``: "camera moved");
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
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

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
    utc_offset_s: float | None = None  # local time = UTC + this (tests); wins over ``zone``
    # The store's IANA zone ([edge] timezone): "04:30" is the store's 04:30 whatever zone the box
    # is set to (issue 19 point 4: a box left on UTC re-learned at 13:30 in Seoul, with students
    # at their desks). None: the box's own zone (the seat tools that have no store).
    zone: str | None = None

    def local_day_s(self, t: float) -> tuple[int, float]:
        """(local day number, seconds after local midnight) of capture time ``t``."""
        if self.utc_offset_s is not None:
            off = self.utc_offset_s
        elif self.zone is not None:
            # the offset at that instant, so a zone with summer time moves with it
            off = ZoneInfo(self.zone).utcoffset(datetime.fromtimestamp(t, UTC)).total_seconds()
        else:
            off = float(time.localtime(t).tm_gmtoff)
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
    # The same crop with a margin on every side (the search window), at the patch's scale:
    # ``pad_x`` / ``pad_y`` patch pixels each side; ``scale_x`` / ``scale_y`` patch pixels per frame
    # pixel and the frame size, to express a shift found in it as a fraction of the frame.
    context: np.ndarray | None = None
    pad_x: int = 0
    pad_y: int = 0
    scale_x: float = 1.0
    scale_y: float = 1.0
    frame_w: int = 0
    frame_h: int = 0


@dataclass(frozen=True, slots=True)
class Comparison:
    """A desk patch against its reference after registration."""

    score: float  # the change score (0 = same desk, up to lighting and a small shift)
    dx: float  # where the desk was found, relative to the reference: fraction of frame width
    dy: float  # ... and of frame height
    match: float  # zero-mean normalised correlation at that place (1 = same structure)
    at_edge: bool  # the best place is at the border of the search window: moved further
    shifted: bool = False  # found at least a whole patch pixel away from where it was taken


def seat_patch(image: np.ndarray, polygon: Sequence[Point], size: int = PATCH_SIZE,
               margin: float = 0.0) -> Patch:
    """Crop the polygon's bounding box from a BGR (or grey) frame into a fixed-size patch.
    ``margin`` > 0 also keeps the surroundings, ``margin`` of the frame width on each side, as
    the search window for ``compare`` (the camera may have moved that far)."""
    h, w = image.shape[:2]
    bx1, by1, bx2, by2 = bounding_box(polygon)
    x1 = min(max(int(np.floor(bx1 * w)), 0), w - 1)
    y1 = min(max(int(np.floor(by1 * h)), 0), h - 1)
    x2 = max(min(int(np.ceil(bx2 * w)), w), x1 + 1)
    y2 = max(min(int(np.ceil(by2 * h)), h), y1 + 1)
    sx, sy = size / (x2 - x1), size / (y2 - y1)
    ctx = None
    if margin > 0:
        # The search window: the same scale as the patch, at least 2 patch pixels each side.
        px_, py_ = max(2, int(round(margin * w * sx))), max(2, int(round(margin * w * sy)))
        mx, my = int(np.ceil(px_ / sx)), int(np.ceil(py_ / sy))  # in frame pixels
        cx1, cy1, cx2, cy2 = x1 - mx, y1 - my, x2 + mx, y2 + my
        region = image[max(cy1, 0) : min(cy2, h), max(cx1, 0) : min(cx2, w)]
        if region.ndim == 3:  # only the window is converted, never the whole frame
            region = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
        # Beyond the frame: repeat the border, so the window keeps its geometry.
        region = cv2.copyMakeBorder(region, max(0, -cy1), max(0, cy2 - h), max(0, -cx1), max(0, cx2 - w),
                                    cv2.BORDER_REPLICATE)
        crop = region[my : my + (y2 - y1), mx : mx + (x2 - x1)]
        ctx = cv2.resize(region, (int(round((x2 - x1 + 2 * mx) * sx)), int(round((y2 - y1 + 2 * my) * sy))),
                         interpolation=cv2.INTER_AREA).astype(np.float32)
        px_, py_ = (ctx.shape[1] - size) // 2, (ctx.shape[0] - size) // 2
    else:
        crop = image[y1:y2, x1:x2]
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    # Polygon in patch pixel coordinates.
    pts = np.array([[(px * w - x1) * sx, (py * h - y1) * sy] for px, py in polygon], dtype=np.float32)
    mask8 = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask8, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    mask = mask8.astype(bool)
    if not mask.any():  # a sliver polygon: use the whole crop rather than nothing
        mask[:] = True
    if ctx is None:
        return Patch(grey=grey, mask=mask)
    return Patch(grey=grey, mask=mask, context=ctx, pad_x=px_, pad_y=py_, scale_x=sx, scale_y=sy,
                 frame_w=w, frame_h=h)


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


def _score(ref_grey: np.ndarray, cur_grey: np.ndarray, mask: np.ndarray) -> float:
    if not mask.any():
        return 0.0
    a = _normalise(ref_grey, mask)
    b = _normalise(cur_grey, mask)
    s = _ssim_map(a, b)
    return float(np.clip(((1.0 - s[mask]) / 2.0).mean(), 0.0, 1.0))


def change_score(reference: Patch, current: Patch) -> float:
    """0 = same scene (up to lighting, and up to a shift within the search window when the
    current patch has one), 1 = completely different, inside the seat polygon."""
    return compare(reference, current).score


def _edges(x: np.ndarray) -> np.ndarray:
    """Gradient magnitude of a lightly blurred patch: the desk's structure (edges, texture),
    which survives a change of exposure; flat areas weigh nothing in the match."""
    b = cv2.GaussianBlur(x, (5, 5), 1.0)
    gx = cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


_ANGLES = (0.0, 1.0, -1.0)  # degrees: a camera on a pole or a loose mount rolls about this much


def _rotated(grey: np.ndarray, mask: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    if angle == 0.0:
        return grey, mask
    h, w = grey.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    g = cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    k = cv2.warpAffine(mask.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    return g, (k if k.any() else mask)


def _subpixel(res: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Parabola through the peak and its neighbours, per axis (a shift is rarely whole pixels)."""
    def off(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d >= 0 else max(-0.5, min(0.5, 0.5 * (a - c) / d))

    h, w = res.shape
    fx = off(res[y, x - 1], res[y, x], res[y, x + 1]) if 0 < x < w - 1 else 0.0
    fy = off(res[y - 1, x], res[y, x], res[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + fx, y + fy


def compare(reference: Patch, current: Patch, register_above: float = 0.0) -> Comparison:
    """Register ``current`` to ``reference`` within ``current``'s search window, then score.

    Registration: the reference patch's gradient image (turned by 0 and +-1 degree) is matched,
    zero-mean normalised correlation (``TM_CCOEFF_NORMED``), against the current search window's,
    to sub-pixel precision; gain and offset of the light cancel. Gradients rather than grey
    levels, so a flat desk lit from another side does not pull the match. The score is then the
    lighting-normalised SSIM change at the best place and angle, inside the polygon. A book on
    the desk cannot be "registered away": it differs from the empty desk at every place in the
    window. A move beyond the window shows as ``at_edge``.

    ``register_above``: search only when the plain comparison scores at least this (the engine
    passes half the change threshold): a desk that matches where it was needs no search, and
    that is most desks most of the time (1.0 ms of the 1.3 ms per seat is the search)."""
    if reference.grey.shape != current.grey.shape:
        raise ValueError(f"patch sizes differ: {reference.grey.shape} vs {current.grey.shape}")
    mask = reference.mask & current.mask
    plain = _score(reference.grey, current.grey, mask)
    ctx = current.context
    if ctx is None or plain < register_above:
        return Comparison(plain, 0.0, 0.0, 1.0, False)
    size_y, size_x = reference.grey.shape
    cx, cy = current.pad_x, current.pad_y
    ctx_edges = _edges(ctx)
    best = None
    for angle in _ANGLES:
        g, m = _rotated(reference.grey, reference.mask, angle)
        res = np.nan_to_num(cv2.matchTemplate(ctx_edges, _edges(g), cv2.TM_CCOEFF_NORMED), nan=-1.0)
        _, peak, _, (bx, by) = cv2.minMaxLoc(res)
        # Prefer the unmoved place when it is as good as any (flat desks match everywhere).
        if res[cy, cx] >= peak - 0.02:
            bx, by, peak = cx, cy, float(res[cy, cx])
        if best is None or peak > best[0] + 0.01:
            best = (peak, angle, res, bx, by, g, m)
    peak, angle, res, bx, by, g, m = best
    fx, fy = _subpixel(res, bx, by)
    aligned = cv2.getRectSubPix(ctx, (size_x, size_y), (fx + (size_x - 1) / 2, fy + (size_y - 1) / 2))
    score = min(plain, _score(g, aligned, m))  # never worse than the unregistered comparison
    dxp, dyp = fx - cx, fy - cy
    at_edge = (abs(bx - cx) >= cx and cx > 2) or (abs(by - cy) >= cy and cy > 2)
    dx = dxp / current.scale_x / current.frame_w if current.frame_w else 0.0
    dy = dyp / current.scale_y / current.frame_h if current.frame_h else 0.0
    return Comparison(score, float(dx), float(dy), float(peak), bool(at_edge), (bx, by) != (cx, cy))


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

    def compare(self, current: Patch, register_above: float = 0.0) -> Comparison | None:
        return None if self._ref is None else compare(self._ref, current, register_above)

    def capture_now(self, t: float, patch: Patch, by: str = "command") -> None:
        self._ref = Patch(grey=patch.grey.astype(np.float32, copy=True), mask=patch.mask.copy())  # no window
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
