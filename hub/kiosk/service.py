"""The kiosk service of one hub process: a poller per GoSca store (own task, own timeout,
backoff with jitter), the seat-list import, and the reconciliation source the alert service
asks every tick. Nothing here runs on the ingest path or in a page request: a kiosk that hangs
or answers garbage costs its own task a timeout and sets the store's kiosk state to unknown.

With several hub replicas each one polls (reads only; the writes are idempotent per state).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alerts.rules import DesiredAlert
from hub.db.models import KioskSeatRow, Seat, SeatStateRow
from hub.kiosk import health as H
from hub.kiosk import store as kstore
from hub.kiosk.adapters import Adapter, make_adapter
from hub.kiosk.model import KioskError, KioskSnapshot
from hub.kiosk.reconcile import KINDS, PairNow, reconcile
from hub.kiosk.settings import GoScaSettings, KioskStoreSettings
from protocol.live import KioskChange, LiveKioskSeat

log = logging.getLogger(__name__)


class KioskMetrics:
    """Registered on the hub's own registry, so they appear on /metrics."""

    def __init__(self, registry: Any) -> None:
        self.up = Gauge("seat_hub_kiosk_up", "1 while the store's kiosk answers usable seat lists", ["store"],
                        registry=registry)
        self.failures = Gauge("seat_hub_kiosk_consecutive_failures", "Failed kiosk reads in a row", ["store"],
                              registry=registry)
        self.last_ok = Gauge("seat_hub_kiosk_last_ok_timestamp_seconds", "Last good kiosk read (UNIX s)",
                             ["store"], registry=registry)
        self.polls = Counter("seat_hub_kiosk_polls", "Kiosk reads by result", ["store", "result"], registry=registry)
        self.latency = Histogram("seat_hub_kiosk_poll_seconds", "Duration of one kiosk read", ["store"],
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=registry)


async def push(live: Any, store_id: str, known: bool, seats: list) -> None:
    """Tell the store's open pages (best effort: the pages re-read the API anyway)."""
    if live is None:
        return
    try:
        await live.publish(store_id, KioskChange(store_id=store_id, known=known, seats=[
            LiveKioskSeat(s.kiosk_seat_id, s.state, s.remaining_s) for s in seats]))
    except Exception:
        log.exception("pushing the kiosk state of store %s to its pages failed", store_id)


class KioskService:
    def __init__(self, settings: Any, sessionmaker: async_sessionmaker[AsyncSession],
                 metrics: KioskMetrics | None = None, *, live: Any = None,
                 clock: Callable[[], float] = time.time, rnd: random.Random | None = None,
                 adapters: dict[str, Adapter] | None = None) -> None:
        self.kiosk: dict[str, KioskStoreSettings] = dict(settings.kiosk)
        self.sessionmaker = sessionmaker
        self.metrics = metrics
        self.live = live  # hub.live.fanout.LiveHub: kiosk changes reach the floor plans at once
        self.clock = clock
        self.rnd = rnd or random.Random()
        self.adapters: dict[str, Adapter] = adapters or {sid: make_adapter(s) for sid, s in self.kiosk.items()}
        self._tasks: list[asyncio.Task[None]] = []
        self.polled = asyncio.Event()  # set after every poll (tests wait on it)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for sid, s in self.kiosk.items():
            if isinstance(s, GoScaSettings):
                self._tasks.append(asyncio.create_task(self._poll_loop(sid, s), name=f"kiosk-poll-{sid}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        self._tasks.clear()

    async def _poll_loop(self, store_id: str, s: GoScaSettings) -> None:
        while True:
            failures = 0
            try:
                failures = await self.poll_once(store_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database hiccuped: try again later, never end the loop
                log.exception("kiosk poll of store %s failed", store_id)
                failures = 1
            await asyncio.sleep(H.next_delay(s.interval_s, failures, s.max_backoff_s, self.rnd))

    # ------------------------------------------------------------------ one read

    async def poll_once(self, store_id: str) -> int:
        """Read the kiosk once and store the result (states, layout changes, health). Returns the
        failures in a row after this read."""
        adapter = self.adapters[store_id]
        t0 = time.monotonic()
        snap: KioskSnapshot | None = None
        error = None
        try:
            snap = await adapter.fetch()
            if not snap.seats and snap.problems:
                raise KioskError(f"no usable seat in the answer: {snap.problems[0]}")
        except KioskError as exc:
            error = str(exc)
        except Exception as exc:  # an adapter bug is a failed read too, never a dead poller
            log.exception("kiosk adapter of store %s", store_id)
            error = f"{exc.__class__.__name__}: {exc}"
        elapsed = time.monotonic() - t0
        now = self.clock()
        changed: list = []
        async with self.sessionmaker() as db:
            await kstore.ensure_store(db, store_id, now)
            h = await kstore.read_health(db, store_id) or H.Health(adapter.kind)
            was_ok = h.ok
            if snap is not None and error is None:
                rep = await kstore.apply_snapshot(db, store_id, snap, now)
                h = H.after_ok(h, now, round(elapsed * 1000, 1), len(snap.seats))
                changed = rep.changed
                if rep.added or rep.removed:
                    log.info("kiosk %s: seats added %s, removed %s", store_id, rep.added, rep.removed)
            else:
                h = H.after_failure(h, now, error or "unknown error")
                log.warning("kiosk %s: %s (failure %d in a row)", store_id, error, h.failures)
            await kstore.write_health(db, store_id, h)
            await db.commit()
        if changed or h.ok != was_ok:
            await push(self.live, store_id, h.ok, changed)
        if self.metrics is not None:
            m = self.metrics
            m.up.labels(store_id).set(1 if h.ok else 0)
            m.failures.labels(store_id).set(h.failures)
            if h.last_ok_at is not None:
                m.last_ok.labels(store_id).set(h.last_ok_at)
            m.polls.labels(store_id, "ok" if h.ok else "error").inc()
            m.latency.labels(store_id).observe(elapsed)
        self.polled.set()
        return h.failures

    async def import_seats(self, store_id: str, snap: KioskSnapshot | None = None) -> kstore.ImportReport:
        """The admin's import (CLI or button): the kiosk's seat list now, or ``snap`` (a file)."""
        if snap is None:
            adapter = self.adapters.get(store_id)
            if adapter is None:
                raise KioskError(f"store {store_id!r} has no kiosk in the settings ([kiosk.{store_id}] in hub.toml)")
            snap = await adapter.fetch()
        now = self.clock()
        async with self.sessionmaker() as db:
            await kstore.ensure_store(db, store_id, now)
            rep = await kstore.apply_snapshot(db, store_id, snap, now)
            await db.commit()
        return rep

    # ------------------------------------------------------------------ reconciliation source

    kinds = KINDS

    async def desired_alerts(self, db: AsyncSession, now: float) -> list[DesiredAlert]:
        """For the alert service: the reconciliation alerts of every store with a kiosk."""
        out: list[DesiredAlert] = []
        if not self.kiosk:
            return out
        rows = (await db.execute(
            select(KioskSeatRow, SeatStateRow, Seat.label, Seat.edge_id)
            .join(Seat, (Seat.store_id == KioskSeatRow.store_id) & (Seat.seat_id == KioskSeatRow.camera_seat_id))
            .outerjoin(SeatStateRow, (SeatStateRow.store_id == Seat.store_id) & (SeatStateRow.seat_id == Seat.seat_id))
            .where(KioskSeatRow.store_id.in_(list(self.kiosk)), KioskSeatRow.present.is_(True),
                   KioskSeatRow.source == "kiosk", Seat.active.is_(True))
        )).all()
        pairs: dict[str, list[PairNow]] = {}
        for k, st, label, edge_id in rows:
            pairs.setdefault(k.store_id, []).append(PairNow(
                store_id=k.store_id, camera_seat_id=k.camera_seat_id, label=label or k.camera_seat_id,
                camera_state=st.state if st is not None else "unknown",
                camera_since=st.since if st is not None else now, kiosk_state=k.state, kiosk_since=k.state_since,
                checked_out_at=k.checked_out_at, edge_id=edge_id))
        for sid, ps in pairs.items():
            s = self.kiosk[sid]
            h = await kstore.read_health(db, sid)
            known = H.unknown_since(h, now, H.stale_after_s(s)) is None
            out += reconcile(ps, known, now, s.rules)
        return out
