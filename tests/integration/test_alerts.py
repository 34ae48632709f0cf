"""Alert rules (pure) and the alert service against real PostgreSQL: conditions, priorities,
dedupe keys, suppression window, closing, delivery."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import select, update

from hub.alerts.delivery import Notifier, RetryPolicy
from hub.alerts.rules import (
    AlertRules,
    EdgeNow,
    OpenAlert,
    SeatNow,
    dedupe_key,
    desired_alerts,
    plan_alerts,
)
from hub.alerts.service import AlertService
from hub.db.migrate import upgrade_async
from hub.db.models import Alert, Edge, Seat, SeatStateRow, Store
from hub.db.session import make_engine, make_sessionmaker
from hub.live.fanout import LiveHub
from hub.settings import AlertSettings, HubSettings
from tests.support.webhook import Hook

RULES = AlertRules(abandoned_alert_s=600, vacant_alert_hours=4, suppress_window_s=900)
NOW = 1_700_000_000.0


def seat(state: str, age: float, seat_id: str = "A1", store: str = "s1") -> SeatNow:
    return SeatNow(store_id=store, seat_id=seat_id, state=state, since=NOW - age, edge_id="e1")


def test_abandoned_seat_alerts_only_after_the_limit():
    assert desired_alerts([seat("abandoned", 599)], [], NOW, RULES) == []
    (a,) = desired_alerts([seat("abandoned", 600)], [], NOW, RULES)
    assert (a.kind, a.priority, a.store_id, a.seat_id, a.since) == (
        "seat_abandoned",
        "high",
        "s1",
        "A1",
        NOW - 600,
    )
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
    edges = [
        EdgeNow("s1", "e1", online=False, last_seen=NOW - 120, channels_down=(3,)),
        EdgeNow("s2", "e2", online=True, channels_down=(5, 2, 5)),
    ]
    alerts = desired_alerts([seat("abandoned", 700)], edges, NOW, RULES)
    assert [(a.kind, a.priority, a.dedupe_key) for a in alerts] == [
        ("edge_offline", "critical", "edge_offline:s1:e1"),
        ("seat_abandoned", "high", "seat_abandoned:s1:A1"),
        ("channel_down", "high", "channel_down:s2:e2:2"),
        ("channel_down", "high", "channel_down:s2:e2:5"),
    ]
    assert alerts[0].since == NOW - 120


def test_rules_from_hub_settings():
    r = AlertRules.from_settings(
        AlertSettings(abandoned_alert_s=30, vacant_alert_hours=1.5, suppress_window_s=60)
    )
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
    plan = plan_alerts(
        want, [OpenAlert(5, key, NOW, NOW), OpenAlert(4, key, NOW, NOW)], {key: NOW}, NOW, RULES
    )
    assert plan.close == [5] and plan.open == [] and plan.remind == []


# ---------------------------------------------------------------- the service, real PostgreSQL


@pytest.fixture
async def db(pg_url):
    engine = make_engine(pg_url)
    await upgrade_async(engine)  # the core's Alembic migrations, not create_all
    yield make_sessionmaker(engine)
    await engine.dispose()


async def seed(sm, t0: float) -> None:
    async with sm() as s:
        s.add(Store(id="s1", name="강남점", created_at=t0))
        s.add(
            Edge(
                store_id="s1",
                edge_id="e1",
                boot_id="b",
                last_seq=1,
                last_seen=t0,
                online=True,
                offline_since=None,
                snapshot_requested_at=None,
                rules=None,
            )
        )
        for sid in ("A1", "A2"):
            s.add(
                Seat(
                    store_id="s1",
                    seat_id=sid,
                    edge_id="e1",
                    channel=1,
                    label=sid,
                    polygon=[[0, 0], [1, 0], [1, 1]],
                )
            )
        s.add(
            SeatStateRow(
                store_id="s1",
                seat_id="A1",
                state="abandoned",
                since=t0 - 700,
                observed_at=t0,
                updated_at=t0,
                edge_id="e1",
            )
        )
        s.add(
            SeatStateRow(
                store_id="s1",
                seat_id="A2",
                state="occupied",
                since=t0 - 100,
                observed_at=t0,
                updated_at=t0,
                edge_id="e1",
            )
        )
        await s.commit()


async def set_seat(sm, seat_id: str, state: str, since: float) -> None:
    async with sm() as s:
        await s.execute(
            update(SeatStateRow).where(SeatStateRow.seat_id == seat_id).values(state=state, since=since)
        )
        await s.commit()


async def alerts(sm) -> list[Alert]:
    async with sm() as s:
        return list((await s.scalars(select(Alert).order_by(Alert.id))).all())


def drain_queue(q: asyncio.Queue) -> list[dict]:
    """The messages as a browser gets them (the JSON text of each ``protocol.live`` message)."""
    out = []
    while not q.empty():
        out.append(json.loads(q.get_nowait().text))
    return out


async def test_service_opens_suppresses_closes_and_reminds(db, hook: Hook):  # noqa: F811
    t0 = time.time()
    await seed(db, t0)
    settings = HubSettings()  # abandoned 600 s, suppress 900 s
    live = LiveHub()
    q = live.subscribe("s1")
    notifier = Notifier(webhooks=[hook.url], policy=RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=1))
    svc = AlertService(settings, db, live, notifier=notifier)

    # abandoned 700 s > 600 s: exactly one alert, sent once (after two 500s), pushed to the dashboard
    hook.statuses = [500, 500]
    await svc.evaluate_once(t0)
    await svc.drain()
    (a,) = await alerts(db)
    assert (a.kind, a.priority, a.seat_id, a.dedupe_key) == (
        "seat_abandoned",
        "high",
        "A1",
        "seat_abandoned:s1:A1",
    )
    assert (a.closed_at, a.last_sent_at, a.delivered, a.attempts, a.last_error) == (None, t0, True, 3, None)
    assert len(hook.accepted) == 1
    (pushed,) = drain_queue(q)
    assert (pushed["type"], pushed["event"], pushed["id"], pushed["kind"]) == (
        "alert",
        "opened",
        a.id,
        "seat_abandoned",
    )

    # the next ticks inside the window: nothing new, nothing re-sent
    await svc.evaluate_once(t0 + 5)
    await svc.evaluate_once(t0 + 10)
    await svc.drain()
    assert len(await alerts(db)) == 1 and len(hook.accepted) == 1 and drain_queue(q) == []

    # the owner comes back: the alert closes
    await set_seat(db, "A1", "occupied", t0 + 15)
    await svc.evaluate_once(t0 + 20)
    (a,) = await alerts(db)
    assert a.closed_at == t0 + 20
    assert [(p["event"], p["id"]) for p in drain_queue(q)] == [("closed", a.id)]

    # abandoned again soon after: a new row, but inside the suppression window it is not re-sent
    await set_seat(db, "A1", "abandoned", t0 - 1000)
    await svc.evaluate_once(t0 + 30)
    await svc.drain()
    rows = await alerts(db)
    assert len(rows) == 2 and rows[1].closed_at is None and rows[1].last_sent_at is None
    assert len(hook.accepted) == 1

    # once the window has passed, the still-open alert is sent again as a reminder
    await svc.evaluate_once(t0 + 901)
    await svc.drain()
    assert len(hook.accepted) == 2
    assert b'"reminder":true' in hook.accepted[1]
    rows = await alerts(db)
    assert rows[1].last_sent_at == t0 + 901 and rows[1].delivered
    await svc.stop()


async def test_service_loop_raises_edge_offline_and_records_failed_delivery(db):
    t0 = time.time()
    await seed(db, t0)
    async with db() as s:
        await s.execute(update(Edge).values(online=False, offline_since=t0 - 30))
        await s.commit()
    dead = "http://127.0.0.1:9/never"  # discard port: nothing listens
    notifier = Notifier(webhooks=[dead], policy=RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.5))
    svc = AlertService(HubSettings(), db, LiveHub(), notifier=notifier, interval_s=0.05)
    await svc.start()
    try:
        for _ in range(100):
            rows = await alerts(db)
            if any(r.kind == "edge_offline" and r.attempts for r in rows):
                break
            await asyncio.sleep(0.05)
    finally:
        await svc.stop()
    rows = {r.kind: r for r in await alerts(db)}
    assert set(rows) == {"edge_offline", "seat_abandoned"}
    edge = rows["edge_offline"]
    assert (edge.priority, edge.edge_id, edge.delivered, edge.attempts) == ("critical", "e1", False, 2)
    assert "connection failed" in edge.last_error and dead in edge.last_error
    # the loop kept ticking without opening duplicates
    assert len(await alerts(db)) == 2
