"""Alert rules (pure): conditions, priorities, dedupe keys, suppression window, closing."""

from __future__ import annotations

from hub.alerts import (
    AlertRules,
    EdgeNow,
    OpenAlert,
    SeatNow,
    dedupe_key,
    desired_alerts,
    plan_alerts,
)
from hub.settings import AlertSettings

RULES = AlertRules(abandoned_alert_s=600, vacant_alert_hours=4, suppress_window_s=900)
NOW = 1_700_000_000.0


def seat(state: str, age: float, seat_id: str = "A1", store: str = "s1") -> SeatNow:
    return SeatNow(store_id=store, seat_id=seat_id, state=state, since=NOW - age, edge_id="e1")


def test_abandoned_seat_alerts_only_after_the_limit():
    assert desired_alerts([seat("abandoned", 599)], [], NOW, RULES) == []
    (a,) = desired_alerts([seat("abandoned", 600)], [], NOW, RULES)
    assert (a.kind, a.priority, a.store_id, a.seat_id, a.since) == ("seat_abandoned", "high", "s1", "A1", NOW - 600)
    assert a.dedupe_key == "seat_abandoned:s1:A1"
    assert "10분" in a.message


def test_vacant_seat_cleaning_check_after_n_hours():
    assert desired_alerts([seat("empty", 4 * 3600 - 1)], [], NOW, RULES) == []
    (a,) = desired_alerts([seat("empty", 5 * 3600 + 120)], [], NOW, RULES)
    assert (a.kind, a.priority) == ("seat_vacant", "low")
    assert "5시간 2분" in a.message


def test_other_states_raise_nothing_however_long():
    seats = [seat(s, 10 * 86400, seat_id=s) for s in ("occupied", "away", "unknown")]
    assert desired_alerts(seats, [], NOW, RULES) == []


def test_edge_offline_is_critical_and_hides_its_channel_alerts():
    edges = [EdgeNow("s1", "e1", online=False, last_seen=NOW - 120, channels_down=(3,)),
             EdgeNow("s2", "e2", online=True, channels_down=(5, 2, 5))]
    alerts = desired_alerts([seat("abandoned", 700)], edges, NOW, RULES)
    assert [(a.kind, a.priority, a.dedupe_key) for a in alerts] == [
        ("edge_offline", "critical", "edge_offline:s1:e1"),
        ("seat_abandoned", "high", "seat_abandoned:s1:A1"),
        ("channel_down", "high", "channel_down:s2:e2:2"),
        ("channel_down", "high", "channel_down:s2:e2:5"),
    ]
    assert alerts[0].since == NOW - 120


def test_rules_from_hub_settings():
    r = AlertRules.from_settings(AlertSettings(abandoned_alert_s=30, vacant_alert_hours=1.5, suppress_window_s=60))
    assert r == AlertRules(30.0, 1.5, 60.0)


def test_new_alert_opens_and_is_sent():
    want = desired_alerts([seat("abandoned", 700)], [], NOW, RULES)
    plan = plan_alerts(want, [], {}, NOW, RULES)
    assert [a.dedupe_key for a in plan.open] == ["seat_abandoned:s1:A1"]
    assert plan.notify_new == {"seat_abandoned:s1:A1"}
    assert plan.remind == [] and plan.close == []


def test_open_alert_is_not_resent_within_the_window_then_reminded():
    key = dedupe_key("seat_abandoned", "s1", "A1", None)
    want = desired_alerts([seat("abandoned", 2000)], [], NOW, RULES)
    open_row = OpenAlert(id=7, dedupe_key=key, opened_at=NOW - 899, last_sent_at=NOW - 899)
    plan = plan_alerts(want, [open_row], {key: NOW - 899}, NOW, RULES)
    assert plan.open == [] and plan.remind == [] and plan.close == []
    open_row = OpenAlert(id=7, dedupe_key=key, opened_at=NOW - 900, last_sent_at=NOW - 900)
    plan = plan_alerts(want, [open_row], {key: NOW - 900}, NOW, RULES)
    assert plan.open == [] and plan.remind == [7]


def test_cleared_condition_closes_the_alert():
    key = dedupe_key("seat_abandoned", "s1", "A1", None)
    want = desired_alerts([seat("occupied", 10)], [], NOW, RULES)
    plan = plan_alerts(want, [OpenAlert(3, key, NOW - 100, NOW - 100)], {key: NOW - 100}, NOW, RULES)
    assert plan.close == [3] and plan.open == []


def test_flapping_alert_reopens_quietly_inside_the_window():
    key = dedupe_key("seat_abandoned", "s1", "A1", None)
    want = desired_alerts([seat("abandoned", 650)], [], NOW, RULES)
    # the previous one (closed) was sent 5 minutes ago
    plan = plan_alerts(want, [], {key: NOW - 300}, NOW, RULES)
    assert [a.dedupe_key for a in plan.open] == [key] and plan.notify_new == set()
    # later, the quietly opened row (never sent) gets its notification once the window has passed
    plan = plan_alerts(want, [OpenAlert(9, key, NOW - 300, None)], {key: NOW - 300}, NOW + 600, RULES)
    assert plan.remind == [9]


def test_duplicate_open_rows_keep_the_oldest():
    key = dedupe_key("edge_offline", "s1", None, "e1")
    want = desired_alerts([], [EdgeNow("s1", "e1", online=False)], NOW, RULES)
    plan = plan_alerts(want, [OpenAlert(5, key, NOW, NOW), OpenAlert(4, key, NOW, NOW)], {key: NOW}, NOW, RULES)
    assert plan.close == [5] and plan.open == [] and plan.remind == []
