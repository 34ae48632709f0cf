"""The rollups' live path (hub.stats.rollup.append_seat: a seat's hour extended by its next events,
from the stored row alone) equals recomputing the hours from the carry and every event
(hub.stats.rollup.roll_seat), for random carries, histories, hour edges and ties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.stats.rollup import HOUR, Carry, SeatHour, append_seat, patch_span, roll_seat

STATES = ["empty", "occupied", "away", "abandoned", "unknown"]
H0 = 1_700_000_000 // 3600 * 3600.0
FIELDS = ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "entries", "stays", "stay_total_s",
          "abandoned_incidents", "events", "end_state", "visit_since", "last_at", "start", "end")

# capture times over 3 hours: a grid (ties, exact hour edges) and arbitrary points
times = st.one_of(st.integers(0, 3 * 12).map(lambda k: H0 + k * 300.0),
                  st.floats(0, 3 * HOUR - 0.001).map(lambda d: round(H0 + d, 3)))
# every carry advance() can reach: occupied always has its visit; away/abandoned may have none
carries = st.one_of(st.just(Carry()), st.builds(Carry, st.sampled_from(["empty", "unknown", "away", "abandoned"]),
                                                st.none()),
                    st.builds(Carry, st.sampled_from(["occupied", "away", "abandoned"]),
                              st.floats(H0 - 5 * HOUR, H0 - 1).map(lambda x: round(x, 3))))


def _same(a: SeatHour, b: SeatHour) -> bool:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                return False
        elif x != y:
            return False
    return True


@settings(max_examples=600, deadline=None)
@given(carries, st.lists(st.tuples(times, st.sampled_from(STATES)), max_size=30), st.integers(0, 30),
       st.integers(0, 2))
def test_appending_equals_recomputing(carry, evs, cut, extra_hours):
    evs = sorted(evs, key=lambda e: e[0])  # stable: ties keep their order, as stored
    cut = min(cut, len(evs))
    before, after = evs[:cut], evs[cut:]
    head = math.floor(before[-1][0] / HOUR) * HOUR if before else H0  # the store's last hour so far
    if after and math.floor(after[0][0] / HOUR) * HOUR < head:
        return  # not an append: the next event falls in an earlier hour (the recompute path's case)
    last = max(head, math.floor(after[-1][0] / HOUR) * HOUR if after else head) + extra_hours * HOUR
    so_far = roll_seat("A1", carry, before, H0, head)
    whole = roll_seat("A1", carry, evs, H0, last)
    got = so_far[:-1] + append_seat(so_far[-1], after, last)
    assert len(got) == len(whole)
    for g, w in zip(got, whole):
        assert _same(g, w), (g, w)


def test_an_event_before_the_hours_last_one_is_refused():
    row = roll_seat("A1", Carry(), [(H0 + 600, "occupied")], H0, H0)[0]
    assert row.last_at == H0 + 600 and row.events == 1
    with pytest.raises(ValueError, match="before the hour's last"):
        append_seat(row, [(H0 + 300, "empty")], H0)


def test_a_stay_that_began_at_the_last_event_keeps_its_length():
    # the entry was the hour's last event (visit == last_at): the stay ending next is counted from it
    row = roll_seat("A1", Carry("empty"), [(H0 + 600, "occupied")], H0, H0)[0]
    out = append_seat(row, [(H0 + 600, "away"), (H0 + 1800, "empty")], H0)
    assert len(out) == 1
    r = out[0]
    assert (r.entries, r.stays, r.stay_total_s, r.events) == (1, 1, 1200.0, 3)
    assert (r.occupied_s, r.away_s, r.empty_s) == (0.0, 1200.0, 600.0 + HOUR - 1800)


RESETS = ("empty", "unknown")


def _patched(carry: Carry, old: list, late: list, last: float) -> list[SeatHour]:
    """What the writer does for late events (hub/stats/rollup_db.py), on lists: the window from the
    last reset before the earliest late event to the first reset after the latest one."""
    rows = roll_seat("A1", carry, [e for _, e in old], H0, last)
    both = sorted(old + late, key=lambda x: (x[1][0], x[0]))  # storage order: (at, id)
    first_new, last_new = min(e[0] for _, e in late), max(e[0] for _, e in late)
    before = [x for x in old if x[1][0] <= first_new and x[1][1] in RESETS
              and math.floor(x[1][0] / HOUR) * HOUR == math.floor(first_new / HOUR) * HOUR]
    if before:
        point = max(before, key=lambda x: (x[1][0], x[0]))
        t0, c0 = point[1][0], Carry(point[1][1])
        after_t0 = lambda x: (x[1][0], x[0]) > (point[1][0], point[0])  # noqa: E731
    else:
        t0 = math.floor(first_new / HOUR) * HOUR
        k = round((t0 - H0) / HOUR)
        c0 = rows[k - 1].carry if k else carry
        after_t0 = lambda x: x[1][0] >= t0  # noqa: E731
    after = [x for x in old if x[1][0] > last_new and x[1][1] in RESETS]
    stop = min(after, key=lambda x: (x[1][0], x[0])) if after else None
    t1 = stop[1][0] if stop else None
    upto = (lambda x: (x[1][0], x[0]) <= (stop[1][0], stop[0])) if stop else (lambda x: True)  # noqa: E731
    win_old = [e for x in old if after_t0(x) and upto(x) for e in [x[1]]]
    win_both = [e for x in both if after_t0(x) and upto(x) for e in [x[1]]]
    a = round((math.floor(t0 / HOUR) * HOUR - H0) / HOUR)
    b = round((math.floor(t1 / HOUR) * HOUR - H0) / HOUR) if t1 is not None else len(rows) - 1
    return rows[:a] + patch_span(rows[a:b + 1], c0, t0, t1, win_old, win_both) + rows[b + 1:]


@settings(max_examples=800, deadline=None)
@given(carries, st.lists(st.tuples(times, st.sampled_from(STATES)), min_size=1, max_size=30),
       st.lists(st.tuples(times, st.sampled_from(STATES)), min_size=1, max_size=6))
def test_late_events_patch_the_span_as_recomputing_would(carry, evs, late_evs):
    old = list(enumerate(sorted(evs, key=lambda e: e[0])))
    late = [(100 + i, e) for i, e in enumerate(late_evs)]  # stored after every old one
    last = math.floor(max(e[0] for e in evs + late_evs) / HOUR) * HOUR
    last = max(last, math.floor(max(e[0] for e in evs) / HOUR) * HOUR)
    got = _patched(carry, old, late, last)
    whole = roll_seat("A1", carry, [e for _, e in sorted(old + late, key=lambda x: (x[1][0], x[0]))], H0, last)
    assert len(got) == len(whole)
    for g, w in zip(got, whole):
        assert _same(g, w), (g, w)
