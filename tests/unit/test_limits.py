"""``protocol.limits.message_problem``: its fast yes/no walk (what the hub runs on every message)
says "fine" exactly when the naming walk finds no problem, on messages full of hostile values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.limits import MAX_LIST, MAX_POLYGON_POINTS, _struct, message_problem
from protocol.messages import Birth, Delta, Event, Evidence, SeatDef, SeatSnapshot

NOW = 1_764_900_000.0
# around every bound: NUL bytes, long strings, negative / huge ints, NaN, inf, times before 2000
# and more than a day ahead, numbers past 1e15
text = st.sampled_from(["A-01", "", "x\x00y", "a" * 63, "a" * 64, "a" * 201, "스토어"]) | st.text(max_size=5)
integer = st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63]) | st.integers(-5, 5)
number = st.sampled_from([0.0, 0.5, -1.0, 1e15, 1e16, -1e16, float("nan"), float("inf"), float("-inf")])
time_ = st.sampled_from([NOW, NOW + 86_399.0, NOW + 86_401.0, 946_684_799.0, 946_684_800.0, float("nan")])
state = st.sampled_from(["empty", "away", "x" * 17, "a\x00"])
point = st.tuples(number, number)


def base(draw) -> dict:
    return dict(store_id=draw(text), edge_id=draw(text), boot_id=draw(text), seq=draw(integer), ts=draw(time_),
                v=draw(integer))


@st.composite
def messages(draw):
    kind = draw(st.sampled_from(["event", "delta", "birth"]))
    if kind == "event":
        ev = Evidence(person_overlap=draw(number), person_conf=draw(number), item_count=draw(integer),
                      item_classes=draw(st.lists(text, max_size=3)), change_score=draw(st.none() | number),
                      person_held=draw(st.booleans()), confidence=draw(number))
        return Event(**base(draw), seat_id=draw(text), from_state=draw(state), to_state=draw(state), at=draw(time_),
                     evidence=ev, historical=draw(st.booleans()))
    snaps = draw(st.lists(st.builds(SeatSnapshot, seat_id=text, state=state, since=time_, resumed=st.booleans()),
                          max_size=3))
    if kind == "delta":
        return Delta(**base(draw), changes=snaps)
    poly = draw(st.lists(point, max_size=4) | st.just([(0.1, 0.1)] * (MAX_POLYGON_POINTS + 1)))
    seats = [SeatDef(seat_id=draw(text), channel=draw(integer), polygon=poly, label=draw(text),
                     desk=draw(st.none() | st.just(poly)))]
    if draw(st.booleans()):
        seats = seats * (MAX_LIST + 1)
    return Birth(**base(draw), config_version=draw(integer), seats=seats, states=snaps)


@settings(max_examples=1500, deadline=None)
@given(messages())
def test_the_fast_check_agrees_with_the_naming_walk(msg):
    slow = _struct(msg, type(msg).__name__, NOW)
    fast = message_problem(msg, NOW)
    assert (fast is None) == (slow is None), (fast, slow)
    if slow is not None:
        assert fast == slow  # a refused message gets the same named reason


def test_a_clean_event_passes_and_a_bad_one_is_named():
    ok = Event(store_id="s", edge_id="e", boot_id="b", seq=1, ts=NOW, seat_id="A", from_state="empty",
               to_state="occupied", at=NOW, evidence=Evidence(item_classes=["book"]))
    assert message_problem(ok, NOW) is None
    bad = Event(store_id="s", edge_id="e", boot_id="b", seq=1, ts=NOW, seat_id="A", from_state="empty",
                to_state="occupied", at=NOW, evidence=Evidence(item_classes=["bo\x00ok"]))
    p = message_problem(bad, NOW)
    assert p is not None and p.reason == "bad_string" and "Event.evidence.item_classes[0]" in p.detail
