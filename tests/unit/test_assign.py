"""Person/item to seat assignment on synthetic detections (real photos: test_seat_engine)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.seats.assign import item_share, lower_box, match_seats, person_score, seat_evidence
from edge_agent.seats.state_machine import SeatTracker
from edge_agent.settings import SeatsSection
from edge_agent.types import Detection
from protocol.messages import Evidence, SeatDef, StateRules

RULES = SeatsSection()  # person_overlap_min 0.25, person_lower_fraction 0.6, item_overlap_min 0.5


def rect(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def person(box, conf=0.8, name="person") -> Detection:
    return Detection(kind="person", class_name=name, conf=conf, box=box)


def item(box, name="backpack", conf=0.6) -> Detection:
    return Detection(kind="item", class_name=name, conf=conf, box=box)


S1 = SeatDef(seat_id="S1", channel=1, polygon=rect(0.1, 0.4, 0.3, 0.8))
S2 = SeatDef(seat_id="S2", channel=1, polygon=rect(0.3, 0.4, 0.5, 0.8))


def test_lower_box_and_scores():
    assert lower_box((0.0, 0.0, 1.0, 1.0), 0.6) == pytest.approx((0.0, 0.4, 1.0, 1.0))
    assert lower_box((0.0, 0.0, 1.0, 1.0), 1.5) == (0.0, 0.0, 1.0, 1.0)  # clamped
    assert person_score((0.12, 0.2, 0.28, 0.7), S1.polygon, 0.6) == pytest.approx(1.0)
    assert person_score((0.12, 0.2, 0.28, 0.2), S1.polygon, 0.6) == 0.0  # zero-height box
    assert item_share((0.2, 0.5, 0.4, 0.6), S1.polygon) == pytest.approx(0.5)
    assert item_share((0.2, 0.5, 0.2, 0.6), S1.polygon) == 0.0


def test_seated_person_with_feet_outside_the_seat_counts():
    # Bottom-centre (0.2, 0.95) is below the seat polygon: the zone-counter rule would miss them.
    p = person((0.12, 0.3, 0.28, 0.95))
    ev = seat_evidence([S1], [p], RULES)["S1"]
    assert ev.person_overlap == pytest.approx(0.24 / 0.39, abs=1e-4)
    assert ev.person_conf == pytest.approx(0.8)


def test_only_the_lower_part_of_the_box_counts():
    # Someone standing in front of the seat: head over the seat polygon, body below it.
    p = person((0.12, 0.7, 0.28, 1.0))
    assert person_score(p.box, S1.polygon, 1.0) == pytest.approx(1 / 3)  # whole box would count
    ev = seat_evidence([S1], [p], RULES)["S1"]
    assert ev.person_overlap == 0.0
    # Sitting lower in the seat: lower 60% is y 0.2..0.5 of which 0.4..0.5 is inside.
    assert person_score((0.12, 0.0, 0.28, 0.5), S1.polygon, 0.6) == pytest.approx(1 / 3)
    assert person_score((0.12, 0.0, 0.28, 0.5), S1.polygon, 0.2) == pytest.approx(1.0)


def test_person_straddling_two_seats_counts_once():
    p = person((0.15, 0.2, 0.35, 0.8))  # lower part: 0.75 in S1, 0.25 in S2
    ev = seat_evidence([S1, S2], [p], RULES)
    assert ev["S1"].person_overlap == pytest.approx(0.75)
    assert ev["S2"].person_overlap == 0.0  # taken by S1: not reported as a near miss either
    assert ev["S2"].person_conf == 0.0


def test_two_people_one_seat_best_score_wins_then_confidence():
    a = person((0.1, 0.4, 0.3, 0.8), conf=0.4)  # score 1.0
    b = person((0.15, 0.4, 0.35, 0.8), conf=0.9)  # score 0.75 in S1, 0.25 in S2
    m = match_seats([S1, S2], [b, a], RULES)
    assert m["S1"].person is a
    assert m["S2"].person is b and m["S2"].person_overlap == pytest.approx(0.25)
    # Equal scores: the more confident detection wins.
    c = person((0.1, 0.4, 0.3, 0.8), conf=0.95)
    assert match_seats([S1], [a, c], RULES)["S1"].person is c


def test_greedy_assignment_order():
    # P1 fits S1 best (1.0) and S2 a bit (0.3); P2 fits S1 (0.8) only. Greedy gives S1 to P1,
    # P2 goes nowhere, and S2 gets P1? No: P1 is already used, so S2 stays without a person.
    p1 = person((0.1, 0.3, 0.3, 0.8))  # taller than P2: not (90%) inside P2's box, another person
    p2 = person((0.1, 0.4, 0.35, 0.8))  # 0.8 in S1, 0.2 in S2
    m = match_seats([S1, S2], [p1, p2], RULES)
    assert m["S1"].person is p1
    assert m["S2"].person is None
    assert m["S2"].person_overlap == pytest.approx(0.2)  # P2's near miss, below threshold


S3 = SeatDef(seat_id="S3", channel=1, polygon=rect(0.1, 0.8, 0.3, 1.0))  # the seat in front of S1


def test_a_box_inside_another_person_box_is_the_same_person():
    # study-table-4chairs (COCO SSD): a student sits in S1; the detector gives the whole body
    # (reaching down over S3, the seat in front) and, inside it, the upper body. The upper body
    # fits S1 best; the whole body must not take S3 as a second person.
    whole = person((0.1, 0.3, 0.3, 0.95), conf=0.88)
    upper = person((0.12, 0.32, 0.28, 0.75), conf=0.42)
    m = match_seats([S1, S3], [whole, upper], RULES)
    assert m["S1"].person is not None
    assert m["S3"].person is None and m["S3"].person_overlap == 0.0  # not even a near miss
    # two people side by side (boxes overlapping less than SAME_PERSON) still take two seats
    other = person((0.12, 0.55, 0.28, 1.0))  # mostly below the first: 0.44 of it inside
    m = match_seats([S1, S3], [person((0.1, 0.3, 0.3, 0.75)), other], RULES)
    assert m["S1"].person is not None and m["S3"].person is other


def test_same_person_across_channels_only_within_a_channel():
    from edge_agent.seats.assign import ChannelsIndex, SeatIndex, same_person

    box = (0.1, 0.3, 0.3, 0.95)
    assert same_person([person(box), person((0.12, 0.32, 0.28, 0.75))]) == {0: [1], 1: [0]}
    assert same_person([person(box), person((0.12, 0.32, 0.28, 0.75))], channels=[1, 2]) == {}
    # the all-channels path: the same boxes on two channels are two people, one per channel
    c1 = [S1, S3]
    c2 = [SeatDef(seat_id=f"{s.seat_id}b", channel=2, polygon=s.polygon) for s in c1]
    ix = ChannelsIndex({1: SeatIndex(c1, RULES), 2: SeatIndex(c2, RULES)})
    dets = {1: [person(box), person((0.12, 0.32, 0.28, 0.75))], 2: [person(box)]}
    got = ix.match(dets)
    assert got[1]["S3"].person is None and got[2]["S1b"].person is not None
    assert got == {ch: SeatIndex(seats, RULES).match(dets[ch]) for ch, seats in ((1, c1), (2, c2))}


def test_threshold_boundary():
    # lower part x 0.05..0.15 (0.1 wide), 0.05 inside S1 -> 0.5; with min 0.5 counts, 0.51 not.
    p = person((0.05, 0.4, 0.15, 0.8))
    assert match_seats([S1], [p], SeatsSection(person_overlap_min=0.5))["S1"].person is p
    m = match_seats([S1], [p], SeatsSection(person_overlap_min=0.51))["S1"]
    assert m.person is None and m.person_overlap == pytest.approx(0.5)


def test_items_inside_counted_with_sorted_classes():
    dets = [
        item((0.15, 0.5, 0.25, 0.6), "laptop"),
        item((0.12, 0.6, 0.2, 0.7), "backpack"),
        item((0.12, 0.7, 0.18, 0.75), "backpack"),
        item((0.25, 0.5, 0.45, 0.6), "cup"),  # 0.25 in S1, 0.75 in S2: S2's
        item((0.28, 0.5, 0.38, 0.6), "book"),  # 0.2 in S1, 0.8 in S2: S2's
        item((0.05, 0.5, 0.15, 0.6), "bottle"),  # 0.5 in S1 (the minimum): counts
        item((0.0, 0.5, 0.1, 0.6), "umbrella"),  # outside everything
        person((0.6, 0.4, 0.7, 0.8)),  # persons are never items
    ]
    ev = seat_evidence([S1, S2], dets, RULES)
    assert ev["S1"].item_count == 4
    assert ev["S1"].item_classes == ["backpack", "bottle", "laptop"]
    assert ev["S2"].item_count == 2 and ev["S2"].item_classes == ["book", "cup"]
    strict = seat_evidence([S1, S2], dets, SeatsSection(item_overlap_min=0.9))
    assert strict["S1"].item_count == 3 and strict["S2"].item_count == 0


def test_no_detections_and_change_scores():
    ev = seat_evidence([S1, S2], [], RULES, change_scores={"S1": 0.123456})
    # Nothing seen and no reference: reads "nothing", with half confidence (an unseen desk may
    # hold something). The confidence field is new with the desk zone (issue 12).
    assert ev["S2"] == Evidence(confidence=0.5)
    assert ev["S1"].change_score == pytest.approx(0.123456)
    assert ev["S1"].person_overlap == 0.0 and ev["S1"].item_count == 0


box_st = st.tuples(*[st.floats(0, 1, allow_nan=False)] * 4).map(
    lambda b: (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
)


@settings(max_examples=150, deadline=None)
@given(boxes=st.lists(box_st, max_size=8), confs=st.lists(st.floats(0.1, 1.0), min_size=8, max_size=8))
def test_assignment_invariants(boxes, confs):
    seats = [S1, S2, SeatDef(seat_id="S3", channel=1, polygon=[(0.5, 0.3), (0.9, 0.4), (0.7, 0.9)])]
    persons = [person(b, conf=c) for b, c in zip(boxes, confs)]
    m = match_seats(seats, persons, RULES)
    assigned = [x.person for x in m.values() if x.person is not None]
    assert len({id(p) for p in assigned}) == len(assigned)  # a person counts for one seat at most
    for s in seats:
        x = m[s.seat_id]
        assert 0.0 <= x.person_overlap <= 1.0
        # the state machine reads the evidence the same way the assignment decided it
        tr = SeatTracker(s.seat_id, StateRules(enter_s=0.0), RULES, state="empty")
        seen = tr.update(0.0, x.evidence())
        assert (seen is not None and seen.to_state == "occupied") is (x.person is not None)
        if x.person is not None:
            assert x.person_overlap >= RULES.person_overlap_min - 1e-9
            assert x.person_overlap == pytest.approx(person_score(x.person.box, s.polygon, 0.6))
        else:
            assert x.person_overlap < RULES.person_overlap_min
