"""Reconciliation rules (hub.kiosk.reconcile), exhaustively: every camera state x kiosk state x
check-out history, at and around each threshold, plus properties over random inputs."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.kiosk.reconcile import PairNow, reconcile
from hub.kiosk.settings import KioskRules

RULES = KioskRules(hogging_min=30, unpaid_min=10, checkout_items_min=5)
CAMERA = ("empty", "occupied", "away", "abandoned", "unknown")
KIOSK = ("free", "sold", "in_use", None)
NOW = 1_000_000.0


def pair(camera: str, kiosk: str | None, camera_age: float, kiosk_age: float, checkout_age: float | None = None):
    return PairNow("s1", "a01", "A-01", camera, NOW - camera_age, kiosk, NOW - kiosk_age,
                   None if checkout_age is None else NOW - checkout_age, "edge-1")


def expected(camera: str, kiosk: str | None, camera_age: float, kiosk_age: float, checkout_age: float | None,
             known: bool) -> str | None:
    """The rules written out a second, independent way."""
    if not known or kiosk is None or camera == "unknown":
        return None
    age = min(camera_age, kiosk_age)  # since the later of the two starts
    if kiosk == "in_use" and camera in ("empty", "away", "abandoned"):
        return "kiosk_hogging" if age >= 30 * 60 else None
    if kiosk == "free" and camera == "occupied":
        return "kiosk_unpaid" if age >= 10 * 60 else None
    if kiosk != "in_use" and checkout_age is not None and camera in ("away", "abandoned"):
        items_there_in_grace = camera_age >= checkout_age - 5 * 60
        return "kiosk_checkout_items" if items_there_in_grace and checkout_age >= 5 * 60 else None
    return None


AGES = (0.0, 5 * 60 - 1, 5 * 60, 10 * 60 - 1, 10 * 60, 30 * 60 - 1, 30 * 60, 5 * 3600)


@pytest.mark.parametrize("camera,kiosk,known", list(itertools.product(CAMERA, KIOSK, (True, False))))
def test_every_combination_of_states_ages_and_checkout(camera, kiosk, known):
    for camera_age, kiosk_age, checkout_age in itertools.product(AGES, AGES, (None, *AGES)):
        got = reconcile([pair(camera, kiosk, camera_age, kiosk_age, checkout_age)], known, NOW, RULES)
        want = expected(camera, kiosk, camera_age, kiosk_age, checkout_age, known)
        assert [a.kind for a in got] == ([want] if want else []), (camera, kiosk, camera_age, kiosk_age, checkout_age)
        for a in got:
            assert a.seat_id == "a01" and a.store_id == "s1" and a.edge_id == "edge-1" and "A-01" in a.message
            assert a.dedupe_key == f"{a.kind}:s1:a01"


def test_the_three_stories():
    # no-show: checked in 40 min ago, the camera has seen the seat empty for an hour
    [a] = reconcile([pair("empty", "in_use", 3600, 2400)], True, NOW, RULES)
    assert a.kind == "kiosk_hogging" and "입실 후 자리에 없음" in a.message and a.since == NOW - 2400
    # hogging: bag on the desk for 31 min while paid
    [a] = reconcile([pair("abandoned", "in_use", 31 * 60, 3 * 3600)], True, NOW, RULES)
    assert "짐만 두고" in a.message and a.priority == "high"
    # unpaid: someone sits at a free seat for 12 min
    [a] = reconcile([pair("occupied", "free", 12 * 60, 5 * 3600)], True, NOW, RULES)
    assert a.kind == "kiosk_unpaid"
    # a fixed seat's holder (sold, not checked in) sitting there is not unpaid use
    assert reconcile([pair("occupied", "sold", 12 * 60, 5 * 3600)], True, NOW, RULES) == []
    # checked out 6 min ago, the bag was there all along
    [a] = reconcile([pair("away", "free", 20 * 60, 6 * 60, 6 * 60)], True, NOW, RULES)
    assert a.kind == "kiosk_checkout_items" and a.priority == "low" and a.since == NOW - 6 * 60
    # a new guest's bag an hour after the check-out is not a forgotten item
    assert reconcile([pair("away", "free", 60, 600, 3 * 3600)], True, NOW, RULES) == []


def test_unknown_kiosk_raises_nothing_at_all():
    pairs = [pair(c, k, 10**5, 10**5, 10**5) for c in CAMERA for k in KIOSK]
    assert reconcile(pairs, False, NOW, RULES) == []
    assert len(reconcile(pairs, True, NOW, RULES)) > 0


ages = st.floats(min_value=0, max_value=10 * 3600, allow_nan=False)


@given(st.sampled_from(CAMERA), st.sampled_from(KIOSK), ages, ages, st.one_of(st.none(), ages), ages,
       st.floats(min_value=1, max_value=120), st.floats(min_value=1, max_value=120), st.floats(min_value=1, max_value=120))
def test_properties(camera, kiosk, camera_age, kiosk_age, checkout_age, later, hog, unpaid, items):
    rules = KioskRules(hogging_min=hog, unpaid_min=unpaid, checkout_items_min=items)
    p = pair(camera, kiosk, camera_age, kiosk_age, checkout_age)
    now_alerts = reconcile([p], True, NOW, rules)
    assert len(now_alerts) <= 1  # at most one reconciliation alert per seat
    for a in now_alerts:
        assert a.since <= NOW  # the condition began in the past
    # once raised, an alert stays while nothing changes (time only makes it older)
    if now_alerts:
        assert [a.kind for a in reconcile([p], True, NOW + later, rules)] == [a.kind for a in now_alerts]
    # stricter hogging / unpaid thresholds never raise more (the check-out grace is also the window
    # in which belongings count as left behind, so it is not monotonic by design)
    stricter = KioskRules(hogging_min=hog * 2, unpaid_min=unpaid * 2, checkout_items_min=items)
    assert len(reconcile([p], True, NOW, stricter)) <= len(now_alerts)
    # agreement never alerts: sitting on a seat in use, an empty free seat
    if (camera == "occupied" and kiosk == "in_use") or (camera == "empty" and kiosk in ("free", "sold")):
        assert now_alerts == []
