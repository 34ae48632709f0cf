"""Alert service: every few seconds, read current seat and edge state from the database, apply
the pure rules (:mod:`hub.alerts.rules`), write/close ``alerts`` rows, push changes to the dashboard
and deliver notifications (:mod:`hub.alerts.delivery`) in the background.

I/O only; the decisions live in :mod:`hub.alerts.rules`. Several hub replicas may run this; the
plan closes duplicate open rows such a race leaves behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alerts.delivery import Notification, Notifier
from hub.alerts.rules import (
    AlertPlan,
    AlertRules,
    DesiredAlert,
    EdgeNow,
    OpenAlert,
    SeatNow,
    desired_alerts,
    plan_alerts,
)
from hub.db.models import Alert, Channel, Edge, Seat, SeatStateRow
from protocol.live import AlertChange, AlertEvent

log = logging.getLogger(__name__)


def alert_message(row: Alert, event: AlertEvent = "opened") -> AlertChange:
    """What the dashboard receives over the store's WebSocket when an alert opens or closes."""
    return AlertChange(
        event=event, id=row.id, store_id=row.store_id, seat_id=row.seat_id, edge_id=row.edge_id, kind=row.kind,
        priority=row.priority, message=row.message, opened_at=row.opened_at, closed_at=row.closed_at,
        delivered=row.delivered,
    )


class AlertService:
    def __init__(
        self,
        settings: Any,
        sessionmaker: async_sessionmaker[AsyncSession],
        live: Any,
        *,
        interval_s: float = 5.0,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        sources: Sequence[Any] = (),
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.live = live
        self.rules = AlertRules.from_settings(settings.alerts)
        self.notifier = notifier if notifier is not None else Notifier.from_settings(settings.alerts)
        self.interval_s = interval_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        # More alert sources (the kiosk reconciliation): objects with ``kinds`` and
        # ``await desired_alerts(db, now)``. One that fails leaves its open alerts as they are.
        self.sources = list(sources)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-service")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.drain()
        await self.notifier.aclose()

    async def drain(self) -> None:
        """Wait for the notifications in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.evaluate_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the service; next tick retries
                log.exception("alert evaluation failed")
            await asyncio.sleep(self.interval_s)

    # ------------------------------------------------------------------ one pass

    async def evaluate_once(self, now: float | None = None) -> AlertPlan:
        now = self.clock() if now is None else now
        async with self.sessionmaker() as db:
            seats, edges = await self._read_state(db)
            open_rows = list((await db.scalars(select(Alert).where(Alert.closed_at.is_(None)))).all())
            since = now - self.rules.suppress_window_s
            last_sent = dict(
                (
                    await db.execute(
                        select(Alert.dedupe_key, func.max(Alert.last_sent_at))
                        .where(Alert.last_sent_at >= since)
                        .group_by(Alert.dedupe_key)
                    )
                ).all()
            )
            desired = desired_alerts(seats, edges, now, self.rules)
            frozen: set[str] = set()
            for source in self.sources:
                try:
                    desired += await source.desired_alerts(db, now)
                except Exception:
                    log.exception("alert source %s failed; its open alerts stay as they are", source)
                    frozen.update(source.kinds)
            plan = plan_alerts(
                desired,
                [OpenAlert(r.id, r.dedupe_key, r.opened_at, r.last_sent_at) for r in open_rows if r.kind not in frozen],
                last_sent,
                now,
                self.rules,
            )
            by_id = {r.id: r for r in open_rows}
            sending = self.notifier.enabled
            new_rows = [
                self._new_row(a, now, sent=sending and a.dedupe_key in plan.notify_new) for a in plan.open
            ]
            db.add_all(new_rows)
            closed = [by_id[i] for i in plan.close]
            for r in closed:
                r.closed_at = now
            reminded = [by_id[i] for i in plan.remind]
            if sending:
                for r in reminded:
                    r.last_sent_at = now
            await db.commit()
        for r in new_rows:
            await self._publish(r.store_id, alert_message(r, "opened"))
        for r in closed:
            await self._publish(r.store_id, alert_message(r, "closed"))
        if sending:
            for r in new_rows:
                if r.last_sent_at is not None:
                    self._deliver(r, reminder=False)
            for r in reminded:
                self._deliver(r, reminder=True)
        if plan.open or plan.close:
            log.info(
                "alerts: %d opened, %d closed, %d reminders",
                len(plan.open),
                len(plan.close),
                len(plan.remind),
            )
        return plan

    async def _read_state(self, db: AsyncSession) -> tuple[list[SeatNow], list[EdgeNow]]:
        rows = await db.execute(
            select(SeatStateRow, Seat.label, Seat.active).outerjoin(
                Seat, (Seat.store_id == SeatStateRow.store_id) & (Seat.seat_id == SeatStateRow.seat_id)
            )
        )
        seats = [
            SeatNow(s.store_id, s.seat_id, s.state, s.since, s.edge_id, label or "")
            for s, label, active in rows.all()
            if active is not False  # a seat removed from the layout raises nothing
        ]
        down: dict[tuple[str, str], list[int]] = {}
        for ch in (await db.scalars(select(Channel).where(Channel.online.is_(False)))).all():
            down.setdefault((ch.store_id, ch.edge_id), []).append(ch.channel)
        edges = [
            EdgeNow(
                e.store_id,
                e.edge_id,
                e.online,
                e.offline_since or e.last_seen,
                tuple(down.get((e.store_id, e.edge_id), ())),
            )
            for e in (await db.scalars(select(Edge))).all()
        ]
        return seats, edges

    @staticmethod
    def _new_row(a: DesiredAlert, now: float, sent: bool) -> Alert:
        return Alert(
            store_id=a.store_id,
            seat_id=a.seat_id,
            edge_id=a.edge_id,
            kind=a.kind,
            priority=a.priority,
            message=a.message,
            opened_at=now,
            closed_at=None,
            last_sent_at=now if sent else None,
            delivered=False,
            attempts=0,
            last_error=None,
            dedupe_key=a.dedupe_key,
        )

    async def _publish(self, store_id: str, msg: AlertChange) -> None:
        if self.live is None:
            return
        try:
            await self.live.publish(store_id, msg)
        except Exception:  # the dashboard is best effort; the row is the record
            log.exception("pushing alert to the dashboard of store %s failed", store_id)

    # ------------------------------------------------------------------ delivery

    def _deliver(self, row: Alert, reminder: bool) -> None:
        note = Notification(
            alert_id=row.id,
            kind=row.kind,
            priority=row.priority,
            store_id=row.store_id,
            message=row.message,
            opened_at=row.opened_at,
            dedupe_key=row.dedupe_key,
            seat_id=row.seat_id,
            edge_id=row.edge_id,
            reminder=reminder,
        )
        task = asyncio.create_task(self._deliver_and_record(note), name=f"alert-delivery-{row.id}")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_and_record(self, note: Notification) -> None:
        try:
            results = await self.notifier.send(note)
            ok = all(r.ok for r in results)
            errors = "; ".join(f"{r.target}: {r.error}" for r in results if not r.ok) or None
            async with self.sessionmaker() as db:
                await db.execute(
                    update(Alert)
                    .where(Alert.id == note.alert_id)
                    .values(
                        delivered=ok,
                        attempts=Alert.attempts + sum(r.attempts for r in results),
                        last_error=errors,
                    )
                )
                await db.commit()
        except Exception:
            log.exception("recording the delivery of alert %s failed", note.alert_id)
