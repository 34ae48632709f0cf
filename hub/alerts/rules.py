"""Alert rules. Pure: current seat states + edges + now -> the alerts that should be open,
and what to do about the ones that are.

Kinds and priorities
- ``seat_abandoned`` (high): a seat in ``abandoned`` for longer than ``abandoned_alert_s``.
- ``seat_vacant`` (low): a seat ``empty`` for longer than ``vacant_alert_hours`` (cleaning check).
- ``edge_offline`` (critical): the store box is gone (death or silence).
- ``channel_down`` (high): one camera channel of an online edge is down. Not raised while the
  whole edge is offline (the critical alert already covers it).

One alert per dedupe key ``kind:store:seat|edge[:channel]``. Suppression: a key is notified at
most once per ``suppress_window_s`` — a still-open alert is re-sent as a reminder only after the
window, and an alert that flaps (closes and reopens) inside the window opens a row but is not
sent again. An alert closes when its condition is no longer present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ui.i18n import DURATION_NAMES, Translator, format_duration

Priority = Literal["critical", "high", "low"]
PRIORITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "low": 2}


@dataclass(frozen=True)
class AlertRules:
    abandoned_alert_s: float = 600.0
    vacant_alert_hours: float = 4.0
    suppress_window_s: float = 900.0

    @classmethod
    def from_settings(cls, alerts: object) -> AlertRules:
        """From ``HubSettings.alerts`` (any object with the three attributes)."""
        return cls(
            abandoned_alert_s=float(alerts.abandoned_alert_s),
            vacant_alert_hours=float(alerts.vacant_alert_hours),
            suppress_window_s=float(alerts.suppress_window_s),
        )


@dataclass(frozen=True)
class SeatNow:
    store_id: str
    seat_id: str
    state: str
    since: float  # UNIX seconds the seat entered ``state``
    edge_id: str | None = None
    label: str = ""


@dataclass(frozen=True)
class EdgeNow:
    store_id: str
    edge_id: str
    online: bool
    last_seen: float | None = None
    channels_down: tuple[int, ...] = ()


@dataclass(frozen=True)
class DesiredAlert:
    kind: str
    priority: Priority
    store_id: str
    message: str
    since: float  # when the condition began
    seat_id: str | None = None
    edge_id: str | None = None
    channel: int | None = None

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.kind, self.store_id, self.seat_id, self.edge_id, self.channel)


def dedupe_key(
    kind: str, store_id: str, seat_id: str | None, edge_id: str | None, channel: int | None = None
) -> str:
    subject = seat_id if seat_id is not None else (edge_id or "")
    key = f"{kind}:{store_id}:{subject}"
    return key if channel is None else f"{key}:{channel}"


# Alert rows and notifications are written in Korean (the stores' language; the pages translate
# them by kind). Durations read the same as on the pages: ui.i18n.format_duration.
_KO = Translator(DURATION_NAMES, "ko")


def _fmt_duration(seconds: float) -> str:
    return format_duration(seconds, _KO)


def desired_alerts(
    seats: Iterable[SeatNow], edges: Iterable[EdgeNow], now: float, rules: AlertRules
) -> list[DesiredAlert]:
    """Every alert whose condition holds at ``now``, most urgent first."""
    out: list[DesiredAlert] = []
    vacant_s = rules.vacant_alert_hours * 3600.0
    for s in seats:
        age = now - s.since
        name = s.label or s.seat_id
        if s.state == "abandoned" and age >= rules.abandoned_alert_s:
            out.append(
                DesiredAlert(
                    "seat_abandoned",
                    "high",
                    s.store_id,
                    f"좌석 {name}: 짐만 있고 사람 없음 {_fmt_duration(age)}",
                    s.since,
                    seat_id=s.seat_id,
                    edge_id=s.edge_id,
                )
            )
        elif s.state == "empty" and age >= vacant_s:
            out.append(
                DesiredAlert(
                    "seat_vacant",
                    "low",
                    s.store_id,
                    f"좌석 {name}: {_fmt_duration(age)} 동안 빈 좌석 (청소 확인)",
                    s.since,
                    seat_id=s.seat_id,
                    edge_id=s.edge_id,
                )
            )
    for e in edges:
        if not e.online:
            since = e.last_seen if e.last_seen is not None else now
            out.append(
                DesiredAlert(
                    "edge_offline",
                    "critical",
                    e.store_id,
                    f"매장 장비 {e.edge_id} 연결 끊김",
                    since,
                    edge_id=e.edge_id,
                )
            )
            continue
        for ch in sorted(set(e.channels_down)):
            out.append(
                DesiredAlert(
                    "channel_down",
                    "high",
                    e.store_id,
                    f"매장 장비 {e.edge_id} 카메라 채널 {ch} 끊김",
                    now,
                    edge_id=e.edge_id,
                    channel=ch,
                )
            )
    out.sort(key=lambda a: (PRIORITY_ORDER[a.priority], a.store_id, a.dedupe_key))
    return out


@dataclass(frozen=True)
class OpenAlert:
    """An alert row that is open now (``closed_at`` is null)."""

    id: int
    dedupe_key: str
    opened_at: float
    last_sent_at: float | None = None


@dataclass
class AlertPlan:
    open: list[DesiredAlert] = field(default_factory=list)  # new rows
    notify_new: set[str] = field(default_factory=set)  # dedupe keys of new rows to send now
    remind: list[int] = field(default_factory=list)  # open alert ids to send again
    close: list[int] = field(default_factory=list)  # open alert ids whose condition cleared


def plan_alerts(
    desired: Iterable[DesiredAlert],
    open_alerts: Iterable[OpenAlert],
    last_sent: Mapping[str, float],
    now: float,
    rules: AlertRules,
) -> AlertPlan:
    """Reconcile what should be open with what is.

    ``last_sent`` maps a dedupe key to the last time it was notified, closed alerts included
    (that is what keeps a flapping alert quiet)."""
    plan = AlertPlan()
    want = {a.dedupe_key: a for a in desired}
    have: dict[str, OpenAlert] = {}
    for a in sorted(open_alerts, key=lambda a: a.id):
        if a.dedupe_key in have or a.dedupe_key not in want:
            plan.close.append(a.id)  # cleared, or a duplicate row left by a race between replicas
        else:
            have[a.dedupe_key] = a

    def quiet(key: str) -> bool:
        sent = last_sent.get(key)
        return sent is not None and now - sent < rules.suppress_window_s

    for key, alert in want.items():
        existing = have.get(key)
        if existing is None:
            plan.open.append(alert)
            if not quiet(key):
                plan.notify_new.add(key)
        elif not quiet(key) and (
            existing.last_sent_at is None or now - existing.last_sent_at >= rules.suppress_window_s
        ):
            plan.remind.append(existing.id)
    plan.close.sort()
    return plan
