"""Statistics against hand-computed timelines (all times KST, Asia/Seoul, UTC+9, no DST)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.stats.compute import (
    STATES,
    SeatTimeline,
    StatsInputError,
    bucket_bounds,
    compute_store_stats,
    seat_bucket_stats,
)

KST = ZoneInfo("Asia/Seoul")
H = 3600.0
M = 60.0


def kst(day: int, hour: int, minute: int = 0, month: int = 3) -> float:
    return datetime(2024, month, day, hour, minute, tzinfo=KST).timestamp()


def durations(row) -> tuple[float, float, float, float, float]:
    return (row.occupied_s, row.empty_s, row.away_s, row.abandoned_s, row.unknown_s)


# ---------------------------------------------------------------- one seat, hour buckets


def test_hourly_timeline_with_a_short_away():
    # 10:00 empty | 10:15 occupied | 11:20 away | 11:30 occupied | 12:40 empty | window 10:00-13:00
    tl = SeatTimeline(
        initial="empty",
        transitions=[
            (kst(1, 10, 15), "occupied"),
            (kst(1, 11, 20), "away"),
            (kst(1, 11, 30), "occupied"),
            (kst(1, 12, 40), "empty"),
        ],
    )
    rows = seat_bucket_stats("S1", tl, bucket_bounds(kst(1, 10), kst(1, 13), "hour", "Asia/Seoul"))
    assert [r.start for r in rows] == [kst(1, 10), kst(1, 11), kst(1, 12)]
    #                             occupied  empty   away  abandoned unknown
    assert durations(rows[0]) == (45 * M, 15 * M, 0, 0, 0)
    assert durations(rows[1]) == (50 * M, 0, 10 * M, 0, 0)  # 11:00-11:20 + 11:30-12:00
    assert durations(rows[2]) == (40 * M, 20 * M, 0, 0, 0)
    # One visit: the 10-minute break (away) is part of it, the return is not a new entry.
    assert [r.entries for r in rows] == [1, 0, 0]
    # the visit ends at 12:40: 10:15 -> 12:40 = 145 min, counted where it ends
    assert [r.stays for r in rows] == [0, 0, 1]
    assert rows[2].avg_stay_s == 145 * M
    assert rows[0].avg_stay_s is None and rows[1].avg_stay_s is None


def test_stay_spanning_three_hours_is_counted_once_where_it_ends():
    # 09:50 occupied -> 12:10 empty: one stay of 2 h 20 min, counted in the 12:00 bucket
    tl = SeatTimeline(initial="empty", transitions=[(kst(1, 9, 50), "occupied"), (kst(1, 12, 10), "empty")])
    rows = seat_bucket_stats("S1", tl, bucket_bounds(kst(1, 9), kst(1, 13), "hour", "Asia/Seoul"))
    assert [durations(r) for r in rows] == [
        (10 * M, 50 * M, 0, 0, 0),
        (H, 0, 0, 0, 0),
        (H, 0, 0, 0, 0),
        (10 * M, 50 * M, 0, 0, 0),
    ]
    assert [r.entries for r in rows] == [1, 0, 0, 0]
    assert [r.stays for r in rows] == [0, 0, 0, 1]
    assert rows[3].stay_total_s == 140 * M


def test_gap_with_unknown_is_not_vacant():
    # occupied since 13:00 | 14:30 edge offline -> unknown | 16:15 back, empty | window 14:00-18:00
    tl = SeatTimeline(
        initial="occupied",
        initial_since=kst(1, 13),
        transitions=[(kst(1, 14, 30), "unknown"), (kst(1, 16, 15), "empty")],
    )
    res = compute_store_stats({"S1": tl}, kst(1, 14), kst(1, 18), "hour")
    rows = res.seats
    assert [durations(r) for r in rows] == [
        (30 * M, 0, 0, 0, 30 * M),
        (0, 0, 0, 0, H),
        (0, 45 * M, 0, 0, 15 * M),
        (0, H, 0, 0, 0),
    ]
    # the stay began at 13:00 (before the window) and its observed part ended at 14:30
    assert rows[0].stays == 1 and rows[0].stay_total_s == 90 * M
    # occupancy excludes unknown time: 14h fully occupied of what was known, 15h nothing known
    assert [b.occupancy_rate for b in res.buckets] == [1.0, None, 0.0, 0.0]


def test_never_observed_seat_is_unknown_all_the_time():
    res = compute_store_stats({"S1": SeatTimeline()}, kst(1, 0), kst(2, 0), "day")
    assert durations(res.seats[0]) == (0, 0, 0, 0, 24 * H)
    assert res.buckets[0].occupancy_rate is None
    assert res.days[0].occupancy_rate is None and res.peak_hours == []


# ---------------------------------------------------------------- midnight and days


def test_midnight_crossing_with_day_buckets():
    # 03-01 22:00 occupied | 03-02 01:30 empty | 10:00 occupied | 11:00 away | 11:10 abandoned | 13:10 empty
    tl = SeatTimeline(
        initial="empty",
        transitions=[
            (kst(1, 22), "occupied"),
            (kst(2, 1, 30), "empty"),
            (kst(2, 10), "occupied"),
            (kst(2, 11), "away"),
            (kst(2, 11, 10), "abandoned"),
            (kst(2, 13, 10), "empty"),
        ],
    )
    res = compute_store_stats({"S1": tl}, kst(1, 0), kst(3, 0), "day")
    d1, d2 = res.seats
    # day buckets start at local midnight (15:00 UTC), not UTC midnight
    assert d1.start == kst(1, 0) and d2.start == kst(2, 0) and d2.end == kst(3, 0)
    assert durations(d1) == (2 * H, 22 * H, 0, 0, 0)
    # occupied 00:00-01:30 + 10:00-11:00 = 2.5 h; away 10 min; abandoned 2 h; empty the rest
    assert durations(d2) == (2.5 * H, 24 * H - 2.5 * H - 10 * M - 2 * H, 10 * M, 2 * H, 0)
    assert (d1.entries, d1.stays, d1.abandoned_incidents) == (1, 0, 0)
    # the overnight stay (22:00 -> 01:30 = 3.5 h) is counted on the day it ends
    assert (d2.entries, d2.stays, d2.abandoned_incidents) == (1, 2, 1)
    # the second visit runs 10:00 -> 13:10 (its away and abandoned part included) = 3 h 10 min
    assert d2.stay_total_s == 3.5 * H + 3 * H + 10 * M
    assert [d.day for d in res.days] == [date(2024, 3, 1), date(2024, 3, 2)]
    assert [d.turnover for d in res.days] == [0.0, 2.0]
    assert [d.abandoned_incidents for d in res.days] == [0, 1]


def test_midnight_crossing_with_hour_buckets():
    tl = SeatTimeline(initial="empty", transitions=[(kst(1, 23, 30), "occupied"), (kst(2, 0, 20), "empty")])
    res = compute_store_stats({"S1": tl}, kst(1, 23), kst(2, 1), "hour")
    a, b = res.seats
    assert datetime.fromtimestamp(b.start, KST) == datetime(2024, 3, 2, 0, 0, tzinfo=KST)
    assert durations(a) == (30 * M, 30 * M, 0, 0, 0)
    assert durations(b) == (20 * M, 40 * M, 0, 0, 0)
    assert (b.stays, b.stay_total_s) == (1, 50 * M)
    assert [d.day for d in res.days] == [date(2024, 3, 1), date(2024, 3, 2)]
    assert [d.stays for d in res.days] == [0, 1]


def test_hours_without_events_inherit_the_state():
    # one event at 08:00, then nothing until the window ends at 12:00
    tl = SeatTimeline(initial="empty", transitions=[(kst(1, 8), "occupied")])
    res = compute_store_stats({"S1": tl}, kst(1, 7), kst(1, 12), "hour")
    assert [r.occupied_s for r in res.seats] == [0, H, H, H, H]
    assert res.seats[-1].stays == 0  # still going at the window end: not a completed stay


# ---------------------------------------------------------------- store aggregates


def test_store_totals_peak_hours_turnover_incidents():
    # window 08:00-12:00
    # A: empty | 08:30 occupied | 09:30 empty | 10:00 occupied | 10:30 empty
    # B: occupied (since unknown -> window start) | 09:00 away | 09:20 abandoned | 11:00 empty
    timelines = {
        "A": SeatTimeline(
            "empty",
            [
                (kst(1, 8, 30), "occupied"),
                (kst(1, 9, 30), "empty"),
                (kst(1, 10), "occupied"),
                (kst(1, 10, 30), "empty"),
            ],
        ),
        "B": SeatTimeline(
            "occupied", [(kst(1, 9), "away"), (kst(1, 9, 20), "abandoned"), (kst(1, 11), "empty")]
        ),
    }
    res = compute_store_stats(timelines, kst(1, 8), kst(1, 12), "hour")
    b8, b9, b10, b11 = res.buckets
    assert durations(b8) == (H + 30 * M, 30 * M, 0, 0, 0)
    assert durations(b9) == (30 * M, 30 * M, 20 * M, 40 * M, 0)
    assert durations(b10) == (30 * M, 30 * M, 0, H, 0)
    assert durations(b11) == (0, 2 * H, 0, 0, 0)
    assert [b.seats for b in res.buckets] == [2, 2, 2, 2]
    assert [b.occupancy_rate for b in res.buckets] == [0.75, 50 / 120, 0.25, 0.0]
    assert [b.entries for b in res.buckets] == [1, 0, 1, 0]
    # 09:30: A's 1 h stay; 10:30: A's 30 min stay; 11:00: B's visit ends, from the window start
    # through its away and abandoned time (3 h)
    assert [b.stays for b in res.buckets] == [0, 1, 1, 1]
    assert b9.avg_stay_s == H and b10.avg_stay_s == 30 * M and b11.avg_stay_s == 3 * H
    assert [b.abandoned_incidents for b in res.buckets] == [0, 1, 0, 0]
    assert [(p.hour, p.occupancy_rate) for p in res.peak_hours] == [(8, 0.75), (9, 50 / 120), (10, 0.25)]
    (day,) = res.days
    assert (day.seats, day.stays, day.turnover, day.abandoned_incidents) == (2, 3, 1.5, 1)
    assert day.occupancy_rate == pytest.approx((90 + 50 + 30 + 0) / 480)
    # per-seat rows are ordered by seat, then time
    assert [(r.seat_id, r.start) for r in res.seats][:2] == [("A", kst(1, 8)), ("A", kst(1, 9))]


def test_peak_hours_are_time_weighted_across_days():
    # seat occupied 09-10 on both days, 10-11 only on day 1
    tl = SeatTimeline(
        "empty",
        [(kst(1, 9), "occupied"), (kst(1, 11), "empty"), (kst(2, 9), "occupied"), (kst(2, 10), "empty")],
    )
    res = compute_store_stats({"S": tl}, kst(1, 0), kst(3, 0), "day")
    assert [(p.hour, p.occupancy_rate) for p in res.peak_hours] == [(9, 1.0), (10, 0.5), (0, 0.0)]


# ---------------------------------------------------------------- input handling


def test_transitions_out_of_order_before_and_after_the_window():
    tl = SeatTimeline(
        initial="empty",
        transitions=[
            (kst(1, 10, 30), "empty"),
            (kst(1, 9, 40), "occupied"),  # before the window: sets the start state and since
            (kst(1, 10, 10), "occupied"),  # repeat of the current state: no new entry
            (kst(1, 11, 0), "occupied"),  # at the window end: ignored
        ],
    )
    (row,) = seat_bucket_stats("S", tl, bucket_bounds(kst(1, 10), kst(1, 11), "hour"))
    assert durations(row) == (30 * M, 30 * M, 0, 0, 0)
    assert (row.entries, row.stays, row.stay_total_s) == (0, 1, 50 * M)


def test_partial_buckets_are_clipped_to_the_window():
    edges = bucket_bounds(kst(1, 10, 30), kst(1, 12, 15), "hour")
    assert edges == [kst(1, 10, 30), kst(1, 11), kst(1, 12), kst(1, 12, 15)]


def test_dst_day_has_23_hours_in_new_york():
    ny = ZoneInfo("America/New_York")
    start = datetime(2024, 3, 10, tzinfo=ny).timestamp()
    end = datetime(2024, 3, 11, tzinfo=ny).timestamp()
    assert bucket_bounds(start, end, "day", ny) == [start, end] and end - start == 23 * H
    assert len(bucket_bounds(start, end, "hour", ny)) - 1 == 23


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: compute_store_stats({"S": SeatTimeline("sleeping")}, 0, 10),
            "unknown seat state 'sleeping'",
        ),
        (lambda: compute_store_stats({"S": SeatTimeline("empty", [(5, "gone")])}, 0, 10), "transition at 5"),
        (lambda: bucket_bounds(10, 10, "hour"), "must be after its start"),
        (lambda: bucket_bounds(0, 10, "week"), "bucket must be 'hour' or 'day'"),
        (lambda: bucket_bounds(0, 10, "hour", "Mars/Olympus"), "unknown time zone"),
    ],
)
def test_bad_input_is_a_specific_error(call, message):
    with pytest.raises(StatsInputError, match=message):
        call()


# ---------------------------------------------------------------- properties

WINDOW_START = kst(1, 0)


@st.composite
def timelines(draw):
    length = draw(st.integers(min_value=1, max_value=3 * 86400))
    start = WINDOW_START + draw(st.integers(min_value=0, max_value=86400))
    times = draw(st.lists(st.integers(min_value=-3600, max_value=length + 3600), max_size=30))
    states = draw(st.lists(st.sampled_from(STATES), min_size=len(times), max_size=len(times)))
    initial = draw(st.one_of(st.none(), st.sampled_from(STATES)))
    return start, start + length, SeatTimeline(initial, [(start + t, s) for t, s in zip(times, states)])


@settings(max_examples=200, deadline=None)
@given(timelines(), st.sampled_from(["hour", "day"]), st.sampled_from(["Asia/Seoul", "America/New_York"]))
def test_five_durations_sum_to_the_bucket_length(case, bucket, tz):
    start, end, tl = case
    res = compute_store_stats({"S": tl}, start, end, bucket, tz)
    for row in res.seats:
        assert row.total_s == pytest.approx(row.end - row.start)
        assert all(d >= 0 for d in durations(row))
    assert res.seats[0].start == start and res.seats[-1].end == end
    # every completed stay is preceded by its entry or by a run already going at the window start
    assert sum(r.stays for r in res.seats) <= sum(r.entries for r in res.seats) + 1
    assert sum(d.stays for d in res.days) == sum(r.stays for r in res.seats)
