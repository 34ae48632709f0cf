"""Sold vs occupied seat-time, hogged and unpaid time (hub.kiosk.kstats), by hand and by property
against a brute-force sampler."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.kiosk.kstats import compute, kiosk_steps
from hub.stats.compute import SeatTimeline, bucket_bounds

SEOUL = ZoneInfo("Asia/Seoul")
D0 = datetime(2026, 3, 2, tzinfo=SEOUL).timestamp()  # a local midnight
H = 3600.0


def test_a_day_by_hand():
    # camera: empty until 10:00, occupied 10-12, away 12-13, occupied 13-14, empty after
    cam = SeatTimeline("empty", [(D0 + 10 * H, "occupied"), (D0 + 12 * H, "away"), (D0 + 13 * H, "occupied"),
                                 (D0 + 14 * H, "empty")], D0 - H)
    # kiosk: in use 9-13 (checked in an hour before sitting down, left at 13), free after
    changes = [(D0 + 9 * H, "in_use"), (D0 + 13 * H, "free")]
    s = compute({"a01": (cam, "free", changes)}, bucket_bounds(D0, D0 + 24 * H, "day", SEOUL), SEOUL)
    [d] = s.days
    assert d.day == "2026-03-02"
    assert (d.sold_s, d.occupied_s, d.used_sold_s, d.hogged_s, d.unpaid_s) == (4 * H, 3 * H, 2 * H, 2 * H, 1 * H)
    assert d.used_share == 0.5 and s.top_hogged() == [("a01", 2 * H)]


def test_days_split_at_local_midnight_and_unknown_counts_nowhere():
    cam = SeatTimeline("occupied", [(D0 + 30 * H, "unknown")], D0)
    s = compute({"x": (cam, "in_use", [])}, bucket_bounds(D0 + 20 * H, D0 + 34 * H, "day", SEOUL), SEOUL)
    assert [d.day for d in s.days] == ["2026-03-02", "2026-03-03"]
    assert [d.sold_s for d in s.days] == [4 * H, 6 * H]  # 20-24h, then 0-6h (camera unknown from 06:00)
    assert kiosk_steps(None, [], 0, 10) == [(0, 10, "unknown")]


CAM = ("empty", "occupied", "away", "abandoned", "unknown")
KIO = ("free", "sold", "in_use")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CAM), st.lists(st.tuples(st.integers(0, 47), st.sampled_from(CAM)), max_size=8),
       st.one_of(st.none(), st.sampled_from(KIO)), st.lists(st.tuples(st.integers(0, 47), st.sampled_from(KIO)),
                                                             max_size=8))
def test_matches_a_sampler_and_keeps_its_identities(c0, cch, k0, kch):
    # changes on whole hours over two days; sample every half hour's midpoint
    cam = SeatTimeline(c0, [(D0 + h * H, s) for h, s in cch], D0)
    kchanges = [(D0 + h * H, s) for h, s in kch]
    s = compute({"a": (cam, k0, kchanges)}, bucket_bounds(D0, D0 + 48 * H, "day", SEOUL), SEOUL)
    want = {"sold": 0.0, "occ": 0.0, "used": 0.0, "hog": 0.0, "unpaid": 0.0}
    for i in range(96):
        t = D0 + i * H / 2 + H / 4
        # camera transitions at equal times: the later one in list order wins (stable sort), as in compute
        ordered = sorted(enumerate(cch), key=lambda x: (x[1][0], x[0]))
        cs = c0
        for _, (h, st_) in ordered:
            if D0 + h * H <= t:
                cs = st_
        ks = k0 or "unknown"
        for _, (h, st_) in sorted(enumerate(kch), key=lambda x: (x[1][0], x[0])):
            if D0 + h * H <= t:
                ks = st_
        if cs == "unknown" or ks == "unknown":
            continue
        want["sold"] += (ks == "in_use") * H / 2
        want["occ"] += (cs == "occupied") * H / 2
        want["used"] += (ks == "in_use" and cs == "occupied") * H / 2
        want["hog"] += (ks == "in_use" and cs != "occupied") * H / 2
        want["unpaid"] += (ks == "free" and cs == "occupied") * H / 2
    got = {"sold": sum(d.sold_s for d in s.days), "occ": sum(d.occupied_s for d in s.days),
           "used": sum(d.used_sold_s for d in s.days), "hog": sum(d.hogged_s for d in s.days),
           "unpaid": sum(d.unpaid_s for d in s.days)}
    assert got == want
    for d in s.days:
        assert abs(d.used_sold_s + d.hogged_s - d.sold_s) < 1e-6  # sold time is used or hogged
        assert d.unpaid_s <= d.occupied_s + 1e-6
    assert abs(s.hogged_by_seat["a"] - want["hog"]) < 1e-6
