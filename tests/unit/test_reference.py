"""Empty-seat reference and change score on real library CCTV frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.seats.reference import PATCH_SIZE, ReferenceRules, SeatReference, change_score, seat_patch
from edge_agent.settings import SeatsSection

THRESHOLD = SeatsSection().change_threshold  # 0.12


def rect(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


# Seat regions without people in these frames (desks, chairs, floor), main stream and substream.
REGIONS = [
    ("f1-camera9.jpg", rect(0.09, 0.49, 0.31, 0.77)),  # empty desk (a book on it)
    ("f1-camera9.jpg", [(0.52, 0.47), (0.68, 0.47), (0.70, 0.70), (0.54, 0.72)]),  # desk end, chairs
    ("f1-camera9.jpg", rect(0.16, 0.52, 0.28, 0.62)),  # plain desk top only: little texture
    ("f3-camera2.jpg", rect(0.66, 0.54, 0.80, 0.72)),  # substream 352x288, empty desk half
    ("f1-camera6.jpg", rect(0.10, 0.60, 0.30, 0.90)),
    ("f1-camera2.jpg", rect(0.30, 0.50, 0.50, 0.80)),
    ("f2-camera25.jpg", rect(0.40, 0.50, 0.60, 0.80)),
]
LIGHTING = [(0.6, 0.0), (1.4, 0.0), (1.0, 40.0), (1.0, -40.0), (1.4, 40.0), (0.6, -40.0)]


def load(samples: Path, name: str) -> np.ndarray:
    im = cv2.imread(str(samples / name))
    assert im is not None, f"cannot read {samples / name}"
    return im


def relight(im: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(im.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def real_object(library_samples) -> np.ndarray:
    """A real bottle + laptop + glasses crop from a desk in f1-camera9."""
    src = load(library_samples, "f1-camera9.jpg")
    h, w = src.shape[:2]
    return src[int(0.58 * h) : int(0.70 * h), int(0.69 * w) : int(0.78 * w)].copy()


def paste(im: np.ndarray, polygon, obj: np.ndarray, cover: float) -> np.ndarray:
    """Put ``obj`` in the middle of the polygon's box, covering ``cover`` of the box's area."""
    im = im.copy()
    h, w = im.shape[:2]
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    bw, bh = (max(xs) - min(xs)) * w, (max(ys) - min(ys)) * h
    ow, oh = int(bw * cover**0.5), int(bh * cover**0.5)
    cx = int((min(xs) + max(xs)) / 2 * w - ow / 2)
    cy = int((min(ys) + max(ys)) / 2 * h - oh / 2)
    im[cy : cy + oh, cx : cx + ow] = cv2.resize(obj, (ow, oh))
    return im


@pytest.mark.parametrize("name, polygon", REGIONS, ids=[f"{n}@{p[0]}" for n, p in REGIONS])
def test_lighting_changes_stay_below_threshold(library_samples, name, polygon):
    im = load(library_samples, name)
    ref = seat_patch(im, polygon)
    assert change_score(ref, seat_patch(im, polygon)) == pytest.approx(0.0, abs=1e-6)
    for gain, offset in LIGHTING:
        s = change_score(ref, seat_patch(relight(im, gain, offset), polygon))
        assert s < THRESHOLD, f"gain {gain} offset {offset}: {s:.3f}"


@pytest.mark.parametrize("name, polygon", REGIONS, ids=[f"{n}@{p[0]}" for n, p in REGIONS])
def test_an_object_on_the_seat_raises_the_score(library_samples, real_object, name, polygon):
    im = load(library_samples, name)
    ref = seat_patch(im, polygon)
    placed = paste(im, polygon, real_object, cover=0.3)
    assert change_score(ref, seat_patch(placed, polygon)) > THRESHOLD
    # ... also when the light changed at the same time
    for gain, offset in [(0.6, 0.0), (1.4, 0.0), (1.0, -40.0)]:
        s = change_score(ref, seat_patch(relight(placed, gain, offset), polygon))
        assert s > THRESHOLD, f"object + gain {gain} offset {offset}: {s:.3f}"


def test_noise_compression_and_substream_stay_below_threshold(library_samples):
    for name, polygon in REGIONS:
        im = load(library_samples, name)
        ref = seat_patch(im, polygon)
        rng = np.random.default_rng(1)
        noisy = np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)
        jpeg = cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], cv2.IMREAD_COLOR)
        sub = cv2.resize(im, (352, 198), interpolation=cv2.INTER_AREA)  # a substream of the same view
        for what, other in (("noise", noisy), ("jpeg40", jpeg), ("substream", sub)):
            s = change_score(ref, seat_patch(other, polygon))
            assert s < THRESHOLD, f"{name} {what}: {s:.3f}"


def test_real_afternoon_light_change_and_real_belongings(library_samples):
    """f3 (16:19) and f4 (17:38) of camera2: daylight changed over 80 minutes. The right half of
    the front desk stayed empty; the left half got other laptops, books and a bag."""
    f3, f4 = load(library_samples, "f3-camera2.jpg"), load(library_samples, "f4-camera2.jpg")
    empty = rect(0.66, 0.54, 0.80, 0.72)
    assert change_score(seat_patch(f3, empty), seat_patch(f4, empty)) < THRESHOLD
    used = rect(0.41, 0.50, 0.62, 0.72)
    assert change_score(seat_patch(f3, used), seat_patch(f4, used)) > 2 * THRESHOLD


def test_seat_patch_shape_mask_and_grey_input():
    im = np.zeros((100, 200, 3), np.uint8)
    tri = [(0.1, 0.1), (0.5, 0.1), (0.1, 0.9)]
    p = seat_patch(im, tri)
    assert p.grey.shape == p.mask.shape == (PATCH_SIZE, PATCH_SIZE)
    frac = p.mask.mean()
    assert 0.4 < frac < 0.6  # a right triangle fills half of its box
    assert p.mask[2, 2] and not p.mask[-3, -3]
    g = seat_patch(im[:, :, 0], tri)  # grey frames work too
    assert g.grey.shape == (PATCH_SIZE, PATCH_SIZE)
    sliver = seat_patch(im, [(0.5, 0.5), (0.5001, 0.5), (0.5, 0.5001)])
    assert sliver.mask.any()  # never an empty mask
    with pytest.raises(ValueError, match="patch sizes differ"):
        change_score(p, seat_patch(im, tri, size=32))


def test_flat_noisy_seat_is_not_change():
    """An evenly lit plain desk: camera noise alone must not look like belongings."""
    rng = np.random.default_rng(0)
    base = np.full((288, 352, 3), 150, np.uint8)
    seat = rect(0.2, 0.2, 0.6, 0.7)
    a = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    b = np.clip(base * 0.7 + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    assert change_score(seat_patch(a, seat), seat_patch(b, seat)) < THRESHOLD


def patch_of(value: float):
    im = np.full((50, 50, 3), value, np.uint8)
    im[10:20, 10:40] = 255 - value  # some structure
    return seat_patch(im, rect(0.0, 0.0, 1.0, 1.0))


def test_reference_taken_after_confident_empty_period():
    ref = SeatReference(ReferenceRules(auto_after_s=60.0))  # opt-in first reference
    p = patch_of(100)
    assert not ref.ready and ref.score(p) is None
    for t in range(0, 60, 2):
        assert not ref.observe(float(t), p, confidently_empty=True)
    assert ref.observe(60.0, p, confidently_empty=True)  # exactly 60 s after the first empty sample
    assert ref.ready and ref.taken_at == 60.0
    assert ref.score(p) == pytest.approx(0.0, abs=1e-6)


def test_interrupted_empty_period_restarts_the_timer():
    ref = SeatReference(ReferenceRules(auto_after_s=60.0))
    p = patch_of(100)
    for t in range(0, 58, 2):
        ref.observe(float(t), p, True)
    ref.observe(58.0, p, False)  # someone sat down for a moment
    for t in range(60, 120, 2):
        assert not ref.observe(float(t), p, True)
    assert ref.observe(120.0, p, True)


# Issue 12: the slow running-average refresh is gone (it absorbed a book left on the desk). The
# reference changes only on command or at the store's quiet time, from a confidently empty seat.
QUIET = ReferenceRules(quiet_at_s=4 * 3600.0, quiet_window_s=1800.0, quiet_empty_s=60.0, utc_offset_s=0.0)
DAY = 86400.0


def test_no_running_refresh_the_reference_only_changes_at_the_quiet_time():
    ref = SeatReference(QUIET)
    a, b = patch_of(100), patch_of(140)
    ref.capture_now(0.0, a)
    assert ref.taken_by == "command"
    # Hours of confidently empty samples during the day (10:00 to 13:00): nothing learned.
    for t in np.arange(10 * 3600.0, 13 * 3600.0, 30.0):
        assert not ref.observe(float(t), b, True)
    np.testing.assert_array_equal(ref.patch.grey, a.grey)
    # Quiet time 04:00-04:30 next day: learned after 60 s confidently empty inside the window
    # (the empty stretch before 04:00 does not count), once per day.
    t0 = DAY + 4 * 3600.0
    for t in np.arange(t0 - 600.0, t0 + 60.0, 10.0):
        assert not ref.observe(float(t), b, True)
    assert ref.observe(t0 + 60.0, b, True)
    assert ref.taken_by == "quiet time" and ref.taken_at == t0 + 60.0
    np.testing.assert_array_equal(ref.patch.grey, b.grey)
    assert not ref.observe(t0 + 600.0, a, True)  # once per quiet window
    assert not ref.observe(2 * DAY + 4 * 3600.0 + 30.0, a, True)  # next window: 30 s in, too soon
    assert ref.observe(2 * DAY + 4 * 3600.0 + 60.0, a, True)  # the next day's window learns


def test_quiet_time_never_learns_a_seat_that_may_hold_something():
    ref = SeatReference(QUIET)
    a = patch_of(100)
    ref.capture_now(0.0, a)
    t0 = DAY + 4 * 3600.0
    for t in np.arange(t0, t0 + 1800.0, 10.0):
        assert not ref.observe(float(t), patch_of(20), False)  # a book there all night
    np.testing.assert_array_equal(ref.patch.grey, a.grey)
    # An interruption inside the window restarts the 60 s.
    t1 = 2 * DAY + 4 * 3600.0
    ref.observe(t1, a, True)
    ref.observe(t1 + 50.0, a, False)
    assert not ref.observe(t1 + 100.0, a, True)
    assert ref.observe(t1 + 160.0, a, True)


def test_quiet_window_across_midnight_and_local_time():
    r = ReferenceRules(quiet_at_s=23.5 * 3600, quiet_window_s=3600.0, utc_offset_s=9 * 3600.0)  # KST
    # 23:45 KST on day 0 = 14:45 UTC; 00:15 KST belongs to the window that began the day before.
    assert r.quiet_day(14.75 * 3600) == 0
    assert r.quiet_day(15.25 * 3600) == 0
    assert r.quiet_day(16.0 * 3600) is None
    assert ReferenceRules().quiet_day(1000.0) is None  # no quiet time configured


def test_capture_now_and_clear():
    ref = SeatReference()
    p = patch_of(80)
    ref.capture_now(5.0, p)
    assert ref.ready and ref.taken_at == 5.0 and ref.taken_by == "command"
    p.grey[:] = 0  # the stored reference is a copy
    assert ref.patch.grey.max() > 0
    ref.clear()
    assert not ref.ready and ref.taken_at is None


def test_quiet_time_is_the_stores_zone_not_the_boxs(monkeypatch):
    """Issue 19 point 4: a box left on UTC with ``[edge] timezone = "Asia/Seoul"`` re-learns at
    04:30 in Seoul (19:30 UTC), not at 04:30 UTC (13:30 in Seoul, students at their desks)."""
    import time as _time

    from edge_agent.seats.engine import SeatEngine
    from edge_agent.seats.rules import SeatRules
    from edge_agent.seats.state_machine import StateRules

    monkeypatch.setenv("TZ", "UTC")
    _time.tzset()
    try:
        eng = SeatEngine([], StateRules(), SeatRules(reference_quiet_time="04:30"), timezone="Asia/Seoul")
        day0 = 20000 * 86400.0  # a UTC midnight
        assert eng.reference_rules.quiet_day(day0 + 19.5 * 3600 + 60) is not None  # 04:31 KST
        assert eng.reference_rules.quiet_day(day0 + 4.5 * 3600 + 60) is None  # 04:31 UTC = 13:31 KST
        # summer time follows the instant: 04:30 in New York is 08:30 UTC in July, 09:30 in January
        ny = ReferenceRules(quiet_at_s=4.5 * 3600, quiet_window_s=600.0, zone="America/New_York")
        july, jan = 1783296000.0, 1767225600.0  # 2026-07-06 00:00 UTC, 2026-01-01 00:00 UTC
        assert ny.quiet_day(july + 8.5 * 3600 + 60) is not None and ny.quiet_day(july + 9.5 * 3600 + 60) is None
        assert ny.quiet_day(jan + 9.5 * 3600 + 60) is not None and ny.quiet_day(jan + 8.5 * 3600 + 60) is None
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()
