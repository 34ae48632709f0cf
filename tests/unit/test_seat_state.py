"""The seat state machine as pure logic: hysteresis, exact timers, unknown, restore, properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.seats.state_machine import ALLOWED, NO_OBSERVATION, OutOfOrderSample, SeatTracker
from edge_agent.settings import SeatsSection
from protocol.messages import Evidence, StateRules

RULES = StateRules(enter_s=6.0, exit_s=20.0, abandoned_after_s=600.0)
SEAT_RULES = SeatsSection()

P = Evidence(person_overlap=0.9, person_conf=0.8)  # a person in the seat
PI = Evidence(person_overlap=0.9, person_conf=0.8, item_count=1, item_classes=["laptop"])
I = Evidence(item_count=1, item_classes=["backpack"])  # belongings, nobody
C = Evidence(change_score=0.5)  # belongings seen only as change against the reference
E = Evidence(change_score=0.01)  # nothing
WEAK = Evidence(person_overlap=0.2)  # a person mostly outside the seat: not a person here


def tracker(state="unknown", since=0.0, rules=RULES, seat_rules=SEAT_RULES) -> SeatTracker:
    return SeatTracker("A-01", rules, seat_rules, state=state, since=since)


def feed(tr: SeatTracker, samples):
    out = []
    for t, ev in samples:
        x = tr.update(t, ev)
        if x is not None:
            out.append(x)
    return out


def run(ev, start, stop, dt):
    """Samples of ``ev`` at start, start+dt, ... while <= stop (integer steps: no float drift)."""
    n = math.floor((stop - start) / dt + 1e-9)
    return [(start + k * dt, ev) for k in range(n + 1)]


def reads_as(ev: Evidence, seat_rules=SEAT_RULES) -> str:
    """How the tracker reads one sample: the state an empty seat goes to when it persists
    (occupied = person, away = belongings, empty = nothing)."""
    tr = SeatTracker("A-01", StateRules(enter_s=0.0, enter_samples=1), seat_rules, state="empty")
    x = tr.update(0.0, ev)
    return "empty" if x is None else x.to_state


def test_how_one_sample_is_read():
    assert reads_as(P) == "occupied"
    assert reads_as(PI) == "occupied"  # a person with their things is a person
    assert reads_as(I) == "away"
    assert reads_as(C) == "away"  # desk change against the reference is belongings
    assert reads_as(C, SeatsSection(use_reference=False)) == "empty"
    assert reads_as(E) == "empty"
    assert reads_as(WEAK) == "empty"
    assert reads_as(Evidence(person_overlap=0.25)) == "occupied"  # threshold inclusive
    assert reads_as(Evidence(change_score=0.12)) == "away"
    assert reads_as(Evidence(change_score=0.1199)) == "empty"


def test_new_seat_is_unknown_until_evidence_persists():
    tr = tracker()
    assert tr.state == "unknown" and tr.snapshot().state == "unknown"
    assert feed(tr, run(E, 0, 4, 2)) == []
    [t] = feed(tr, [(6.0, E)])
    assert (t.from_state, t.to_state, t.at) == ("unknown", "empty", 6.0)
    assert tr.since == 0.0  # since = first sample of the run


@pytest.mark.parametrize("dt", [0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
def test_enter_timer_exact_to_the_sample(dt):
    tr = tracker("empty", since=0.0)
    t0 = 100.0
    first = t0 + math.ceil(RULES.enter_s / dt) * dt  # first sample with t - t0 >= enter_s
    trs = feed(tr, run(P, t0, first + 5 * dt, dt))
    assert len(trs) == 1
    assert trs[0].to_state == "occupied" and trs[0].at == first
    assert tr.since == t0
    assert trs[0].evidence == P


@pytest.mark.parametrize("dt", [0.5, 1.0, 2.0, 3.0, 7.0])
def test_exit_timer_exact_to_the_sample(dt):
    tr = tracker("occupied", since=0.0)
    t0 = 50.0
    first = t0 + math.ceil(RULES.exit_s / dt) * dt
    trs = feed(tr, run(I, t0, first + 3 * dt, dt))
    assert [(x.to_state, x.at) for x in trs] == [("away", first)]
    assert tr.since == t0  # away since the person was first seen gone


@pytest.mark.parametrize("dt", [1.0, 2.0, 3.0, 7.0])
def test_abandoned_exactly_at_the_limit(dt):
    tr = tracker("occupied", since=0.0)
    t0 = 10.0
    trs = feed(tr, run(I, t0, t0 + 700, dt))
    assert [x.to_state for x in trs] == ["away", "abandoned"]
    limit_at = t0 + math.ceil(RULES.abandoned_after_s / dt) * dt
    assert trs[1].at == limit_at
    assert trs[1].at - t0 >= RULES.abandoned_after_s > trs[1].at - dt - t0  # the sample before was short
    assert tr.since == limit_at
    assert trs[1].evidence == I


def test_abandoned_waits_for_a_sample_that_still_shows_items():
    tr = tracker("away", since=0.0)
    assert feed(tr, [(599.0, I), (600.0, P), (601.0, E)]) == []  # limit passed, but no items seen now
    [t] = feed(tr, [(602.0, I)])
    assert t.to_state == "abandoned" and t.at == 602.0


@pytest.mark.parametrize("start", ["empty", "occupied", "away", "abandoned", "unknown"])
@pytest.mark.parametrize(
    "pattern",
    [[P, E], [P, I], [I, E], [P, C], [P, I, E], [P, None]],
    ids=["P/E", "P/I", "I/E", "P/C", "P/I/E", "P/None"],
)
def test_alternating_evidence_never_flips(start, pattern):
    """Flicker every sample (2 s apart, 1 hour): no run lasts long enough to confirm anything,
    except that None always means unknown."""
    tr = tracker(start, since=0.0)
    samples = [(float(k * 2), pattern[k % len(pattern)]) for k in range(1800)]
    trs = feed(tr, samples)
    if None in pattern:
        assert all(x.to_state == "unknown" for x in trs) and len(trs) <= 1
        return
    if start == "away" and any(x in (I, C) for x in pattern):
        # Belongings seen every few samples keep an away seat's limit running: abandoned is right.
        assert [x.to_state for x in trs] == ["abandoned"]
        return
    if start == "occupied" and pattern == [I, E]:
        # Nobody for 20 s: the person really left; belongings seen recently -> away, then the
        # items every other sample keep the seat away and, after the limit, abandoned.
        assert [x.to_state for x in trs] == ["away", "abandoned"]
        return
    assert trs == [], [(x.from_state, x.to_state, x.at) for x in trs]


def test_walking_past_shorter_than_enter_changes_nothing():
    tr = tracker("empty", since=0.0)
    assert feed(tr, run(P, 10, 14, 2) + run(E, 16, 40, 2)) == []  # person seen for 4 s < 6 s
    assert tr.state == "empty" and tr.since == 0.0
    # Exactly enter_s is enough (the boundary is inclusive).
    [t] = feed(tr, run(P, 50, 56, 2))
    assert t.to_state == "occupied" and t.at == 56


def test_person_leaning_out_shorter_than_exit_keeps_occupied():
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(E, 10, 28, 2) + [(30.0, P)] + run(E, 32, 50, 2))  # 18 s gaps, < 20 s
    assert trs == [] and tr.state == "occupied" and tr.since == 0.0


@pytest.mark.parametrize("state", ["empty", "occupied", "away", "abandoned"])
def test_none_means_unknown_immediately(state):
    tr = tracker(state, since=5.0)
    [t] = feed(tr, [(10.0, None)])
    assert (t.from_state, t.to_state, t.at, t.evidence) == (state, "unknown", 10.0, NO_OBSERVATION)
    assert tr.since == 10.0
    assert feed(tr, [(12.0, None), (14.0, None)]) == []  # still unknown, no repeats


def test_occupied_leaves_to_empty_or_away_by_recent_items():
    # Items only at the start of the 20 s absence: the person took them -> empty.
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(I, 10, 12, 2) + run(E, 14, 40, 2))
    assert [(x.to_state, x.at) for x in trs] == [("empty", 30.0)]
    assert tr.since == 10.0
    # One sample of "items" 6 s before the confirming sample, the desk clear since: the student
    # getting up, leaning over the desk, missed by the detector. Not belongings: empty. (It read
    # away at 30 and empty at 38: a flicker the labels never have, study-table-4chairs.)
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(E, 10, 22, 2) + [(24.0, I)] + run(E, 26, 40, 2))
    assert [(x.to_state, x.at) for x in trs] == [("empty", 30.0)]
    # Items on two samples within the enter window (a detector seeing the bag on every other
    # sample) -> away, though not on the confirming sample.
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(E, 10, 22, 2) + [(24.0, I), (26.0, E), (28.0, I), (30.0, E)] + run(I, 32, 36, 2))
    assert [(x.to_state, x.at) for x in trs] == [("away", 30.0)]
    # Items on the confirming sample alone -> away (what the desk shows once the person is gone).
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(E, 10, 28, 2) + [(30.0, C)] + run(C, 32, 40, 2))
    assert [(x.to_state, x.at) for x in trs] == [("away", 30.0)]
    # Items last seen 8 s before -> empty.
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(E, 10, 20, 2) + [(22.0, I)] + run(E, 24, 40, 2))
    assert [(x.to_state, x.at) for x in trs] == [("empty", 30.0)]


def test_change_score_counts_as_items_only_with_reference_on():
    tr = tracker("occupied", since=0.0)
    assert [x.to_state for x in feed(tr, run(C, 10, 30, 2))] == ["away"]
    tr = tracker("occupied", since=0.0, seat_rules=SeatsSection(use_reference=False))
    assert [x.to_state for x in feed(tr, run(C, 10, 30, 2))] == ["empty"]


def test_belongings_without_a_person_make_an_empty_seat_away():
    tr = tracker("empty", since=0.0)
    trs = feed(tr, run(I, 10, 20, 2))
    assert [(x.to_state, x.at) for x in trs] == [("away", 16.0)]
    assert tr.since == 10.0


def test_away_and_abandoned_return_to_occupied_or_empty():
    for state in ("away", "abandoned"):
        tr = tracker(state, since=0.0)
        trs = feed(tr, run(P, 100, 110, 2))
        assert [(x.from_state, x.to_state, x.at) for x in trs] == [(state, "occupied", 106.0)]
        assert tr.since == 100.0
        tr = tracker(state, since=0.0)
        trs = feed(tr, run(E, 100, 110, 2))
        assert [(x.to_state, x.at) for x in trs] == [("empty", 106.0)]


def test_resume_after_unknown_keeps_the_old_since():
    tr = tracker("occupied", since=100.0)
    trs = feed(tr, [(200.0, None)] + run(P, 210, 220, 2))
    assert [(x.to_state, x.at) for x in trs] == [("unknown", 200.0), ("occupied", 216.0)]
    assert tr.since == 100.0  # the stay did not restart because of a camera glitch


def test_outage_does_not_reset_the_abandoned_timer():
    tr = tracker("occupied", since=0.0)
    trs = feed(tr, run(I, 10, 40, 2))
    assert tr.state == "away" and tr.since == 10.0
    trs = feed(tr, [(300.0, None)] + run(I, 400, 700, 2))
    assert [(x.to_state, x.at) for x in trs] == [("unknown", 300.0), ("away", 406.0), ("abandoned", 610.0)]
    # Abandoned, outage, still belongings: abandoned again with its old since.
    since = tr.since
    trs = feed(tr, [(800.0, None)] + run(I, 810, 820, 2))
    assert [x.to_state for x in trs] == ["unknown", "abandoned"] and tr.since == since


def test_unknown_to_a_different_state_starts_a_new_since():
    tr = tracker("occupied", since=100.0)
    trs = feed(tr, [(200.0, None)] + run(E, 210, 220, 2))
    assert [x.to_state for x in trs] == ["unknown", "empty"]
    assert tr.since == 210.0


def test_restore_continues_from_storage():
    tr = tracker()
    tr.restore("away", 1000.0)
    assert tr.snapshot().state == "away" and tr.snapshot().since == 1000.0
    assert feed(tr, [(1500.0, I)]) == []
    [t] = feed(tr, [(1600.0, I)])  # 600 s after the stored since
    assert (t.from_state, t.to_state) == ("away", "abandoned")
    tr.restore("occupied", 50.0)
    trs = feed(tr, run(E, 2000, 2030, 2))
    assert [(x.from_state, x.to_state, x.at) for x in trs] == [("occupied", "empty", 2020.0)]
    # A restore may go back in time (new process): the sample clock restarts with it.
    tr.restore("empty", 10.0)
    assert feed(tr, [(20.0, E)]) == [] and tr.state == "empty"
    with pytest.raises(ValueError, match="cannot restore unknown state 'gone'"):
        tr.restore("gone", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SeatTracker("x", RULES, SEAT_RULES, state="busy")  # type: ignore[arg-type]


def test_restore_drops_a_pending_run():
    tr = tracker("empty", since=0.0)
    feed(tr, run(P, 10, 14, 2))
    assert tr.pending == ("occupied", 10.0)
    tr.restore("empty", 0.0)
    assert tr.pending is None
    assert feed(tr, run(P, 16, 20, 2)) == []  # the run starts again at 16


def test_samples_must_not_go_back_in_time():
    tr = tracker("empty", since=0.0)
    feed(tr, [(10.0, E), (10.0, E)])  # equal times are fine
    with pytest.raises(OutOfOrderSample, match="older than the previous one at 10.0"):
        tr.update(9.0, E)
    assert tr.state == "empty"


def test_zero_hysteresis_confirms_on_one_sample():
    tr = tracker("empty", since=0.0, rules=StateRules(enter_s=0, exit_s=0, abandoned_after_s=0))
    assert [x.to_state for x in feed(tr, [(1.0, P), (2.0, I), (3.0, I), (4.0, E)])] == [
        "occupied",
        "away",
        "abandoned",
        "empty",
    ]


# -- properties ---------------------------------------------------------------------------------

EVIDENCE = [P, PI, I, C, E, WEAK, None]


@st.composite
def scenarios(draw):
    enter = draw(st.sampled_from([0.0, 2.0, 6.0, 10.0]))
    exit_ = draw(st.sampled_from([0.0, 4.0, 20.0]))
    limit = draw(st.sampled_from([0.0, 30.0, 120.0, 600.0]))
    rules = StateRules(enter_s=enter, exit_s=exit_, abandoned_after_s=limit)
    start = draw(st.sampled_from(["empty", "occupied", "away", "abandoned", "unknown"]))
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 30.0]),
                st.integers(0, len(EVIDENCE) - 1),
                st.integers(1, 15),  # repeat the same evidence this many samples (runs)
            ),
            max_size=40,
        )
    )
    return rules, start, steps


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_property_transitions_are_allowed_ordered_and_spaced(scenario):
    rules, start, steps = scenario
    tr = tracker(start, since=0.0, rules=rules)
    t = 0.0
    prev = None
    state = start
    for dt, ei, rep in steps:
        for _ in range(rep):
            t += dt
            x = tr.update(t, EVIDENCE[ei])
            if x is None:
                assert tr.state == state
                continue
            assert x.from_state == state and x.to_state in ALLOWED[state]
            assert x.to_state != x.from_state
            assert x.at == t and tr.since <= x.at
            if x.to_state == "unknown":
                assert EVIDENCE[ei] is None
            if prev is not None:
                assert x.at >= prev.at
                if x.to_state not in ("unknown", "abandoned"):
                    assert x.at - prev.at >= min(rules.enter_s, rules.exit_s)
            if x.to_state == "abandoned" and x.from_state == "away":
                assert EVIDENCE[ei] in (I, C)
            state = x.to_state
            prev = x
    assert tr.snapshot().state == state


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from(["P", "E"]))
def test_property_persistent_evidence_wins(scenario, final):
    """Whatever came before, a person present (or nothing there) long enough settles the seat."""
    rules, start, steps = scenario
    tr = tracker(start, since=0.0, rules=rules)
    t = 0.0
    for dt, ei, rep in steps:
        for _ in range(rep):
            t += dt
            tr.update(t, EVIDENCE[ei])
    ev, want = (P, "occupied") if final == "P" else (E, "empty")
    # enough samples for the longest hysteresis, plus one in case the first sample finishes a
    # run of another kind
    horizon = rules.enter_s + rules.exit_s + 2
    for k in range(1, int(horizon) + 3):
        tr.update(t + k, ev)
    assert tr.state == want


# -- hysteresis counted in samples -----------------------------------------------------------


def test_samples_only_hysteresis_needs_n_consistent_samples():
    rules = StateRules(enter_s=0.0, exit_s=0.0, enter_samples=3, exit_samples=4)
    tr = tracker("empty", rules=rules)
    assert [tr.update(t, P) for t in (1.0, 2.0)] == [None, None]
    got = tr.update(3.0, P)
    assert (got.to_state, got.at, tr.since) == ("occupied", 3.0, 1.0)  # since = first sample of the run
    assert [tr.update(t, E) for t in (4.0, 5.0, 6.0)] == [None, None, None]
    assert tr.update(7.0, E).to_state == "empty"  # the 4th sample without a person


def test_samples_and_seconds_must_both_hold():
    rules = StateRules(enter_s=4.0, enter_samples=3)
    tr = tracker("empty", rules=rules)
    assert tr.update(0.0, P) is None and tr.update(5.0, P) is None  # 5 s but only 2 samples
    assert tr.update(5.5, P).to_state == "occupied"


def test_alternating_evidence_never_flips_with_sample_hysteresis():
    rules = StateRules(enter_s=0.0, exit_s=0.0, enter_samples=2, exit_samples=2)
    tr = tracker("empty", rules=rules)
    for i in range(50):
        assert tr.update(float(i), P if i % 2 else E) is None
    assert tr.state == "empty"
