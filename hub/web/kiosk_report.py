"""Kiosk statistics over HTTP: per store (days, top hogged seats, reconciliation alerts per day and
per hour of day) and across stores, as JSON and as server-rendered pages (tables, no JS needed).
Numbers from :mod:`hub.kiosk.kstats` (pure) over the camera timelines and the kiosk's changes;
the seats counted are the ones mapped now."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.guard import principal, visible
from hub.db.models import Alert, KioskEvent, KioskSeatRow, Seat
from hub.kiosk.kstats import KioskStats, compute
from hub.kiosk.reconcile import KINDS
from hub.stats.api import load_timelines
from hub.stats.compute import bucket_bounds
from hub.stores import queries
from hub.web.common import SEOUL, hub_zone, page_context, page_zone, translator, visible_stores
from hub.web.history import parse_range

FromDate = Annotated[str | None, QueryParameter(name="from", description="first local date, YYYY-MM-DD")]
ToDate = Annotated[str | None, QueryParameter(description="last local date (inclusive), YYYY-MM-DD")]


def window(frm: str | None, to: str | None, now: float, zone: ZoneInfo = SEOUL) -> tuple[float, float, list[str]]:
    """The local days from..to (YYYY-MM-DD) in ``zone`` (one store: its zone; several: the hub's)."""
    today = datetime.fromtimestamp(now, zone).date()
    d0, d1 = parse_range(frm, to, today)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone).timestamp()
    nd = d1 + timedelta(days=1)
    end = min(datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp(), now)
    return start, max(end, start + 1.0), [d0.isoformat(), d1.isoformat()]


async def store_kiosk_stats(db: AsyncSession, store_id: str, start: float, end: float,
                            zone: ZoneInfo = SEOUL) -> tuple[KioskStats, dict]:
    rows = (await db.execute(select(KioskSeatRow.kiosk_seat_id, KioskSeatRow.camera_seat_id).where(
        KioskSeatRow.store_id == store_id, KioskSeatRow.source == "kiosk",
        KioskSeatRow.camera_seat_id.is_not(None)))).all()
    kid_of = {cam: kid for kid, cam in rows}
    timelines = (await load_timelines(db, store_id, start, end)).timelines if kid_of else {}
    kids = list(kid_of.values())
    initial: dict[str, str] = {}
    changes: dict[str, list[tuple[float, str]]] = {}
    if kids:
        before = (await db.execute(select(KioskEvent.kiosk_seat_id, KioskEvent.state, KioskEvent.at).where(
            KioskEvent.store_id == store_id, KioskEvent.kiosk_seat_id.in_(kids), KioskEvent.at < start)
            .order_by(KioskEvent.at, KioskEvent.id))).all()
        for kid, state, _ in before:
            initial[kid] = state
        for kid, state, at in (await db.execute(select(KioskEvent.kiosk_seat_id, KioskEvent.state, KioskEvent.at).where(
                KioskEvent.store_id == store_id, KioskEvent.kiosk_seat_id.in_(kids), KioskEvent.at >= start,
                KioskEvent.at < end).order_by(KioskEvent.at, KioskEvent.id))).all():
            changes.setdefault(kid, []).append((at, state))
    from hub.stats.compute import SeatTimeline

    pairs = {cam: (timelines.get(cam, SeatTimeline()), initial.get(kid), changes.get(kid, []))
             for cam, kid in kid_of.items()}
    stats = compute(pairs, bucket_bounds(start, end, "day", zone), zone)
    alerts = await alert_counts(db, [store_id], start, end, zone)
    return stats, alerts.get(store_id, {"by_day": {}, "by_hour": [{} for _ in range(24)], "total": {}})


async def alert_counts(db: AsyncSession, store_ids: list[str], start: float, end: float,
                       zone: ZoneInfo = SEOUL) -> dict[str, dict[str, Any]]:
    """Reconciliation alerts opened in the window: per store, per local day and per hour of day."""
    out: dict[str, dict[str, Any]] = {}
    rows = (await db.execute(select(Alert.store_id, Alert.kind, Alert.opened_at).where(
        Alert.store_id.in_(store_ids), Alert.kind.in_(KINDS), Alert.opened_at >= start, Alert.opened_at < end))).all()
    for sid, kind, at in rows:
        o = out.setdefault(sid, {"by_day": {}, "by_hour": [{} for _ in range(24)], "total": Counter()})
        local = datetime.fromtimestamp(at, zone)
        day = o["by_day"].setdefault(local.date().isoformat(), {})
        day[kind] = day.get(kind, 0) + 1
        o["by_hour"][local.hour][kind] = o["by_hour"][local.hour].get(kind, 0) + 1
        o["total"][kind] += 1
    for o in out.values():
        o["total"] = dict(o["total"])
    return out


class DayOut(msgspec.Struct):
    day: str
    sold_h: float
    occupied_h: float
    used_sold_h: float
    used_share: float | None  # used_sold / sold
    hogged_h: float
    unpaid_min: float
    alerts: dict[str, int]


class HoggedOut(msgspec.Struct):
    seat_id: str
    label: str
    hogged_h: float


class StoreKioskStatsOut(msgspec.Struct):
    store_id: str
    days: list[DayOut]
    top_hogged: list[HoggedOut]
    alerts_by_hour: list[dict[str, int]]  # 24 entries, local hour of day
    alerts_total: dict[str, int]


def _h(s: float) -> float:
    return round(s / 3600, 2)


async def _store_out(db: AsyncSession, store_id: str, start: float, end: float,
                     zone: ZoneInfo = SEOUL) -> StoreKioskStatsOut:
    stats, alerts = await store_kiosk_stats(db, store_id, start, end, zone)
    labels = dict((await db.execute(select(Seat.seat_id, Seat.label).where(Seat.store_id == store_id))).all())
    return StoreKioskStatsOut(
        store_id=store_id,
        days=[DayOut(d.day, _h(d.sold_s), _h(d.occupied_s), _h(d.used_sold_s),
                     None if d.used_share is None else round(d.used_share, 3), _h(d.hogged_s),
                     round(d.unpaid_s / 60, 1), alerts["by_day"].get(d.day, {})) for d in stats.days],
        top_hogged=[HoggedOut(sid, labels.get(sid) or sid, _h(s)) for sid, s in stats.top_hogged(5)],
        alerts_by_hour=alerts["by_hour"], alerts_total=alerts["total"])


@get("/api/v1/stores/{store_id:str}/kiosk/stats", tags=["kiosk"])
async def store_kiosk_stats_api(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
                                frm: FromDate = None, to: ToDate = None) -> StoreKioskStatsOut:
    """Sold vs occupied seat-hours per local day (mapped seats; the store's time zone), hogged
    hours, unpaid-use minutes, the top hogged seats and the reconciliation alerts per day and hour."""
    await queries.get_store(db, store_id)
    zone = await page_zone(db, request, store_id)
    start, end, _ = window(frm, to, time.time(), zone)
    return await _store_out(db, store_id, start, end, zone)


class CompareOut(msgspec.Struct):
    store_id: str
    name: str
    sold_h: float
    occupied_h: float
    used_share: float | None
    hogged_h: float
    unpaid_min: float
    alerts: dict[str, int]


async def _compare(request: Request, db: AsyncSession, start: float, end: float) -> list[CompareOut]:
    stores = visible(principal(request), await queries.list_stores(db))
    with_floor = set((await db.scalars(select(KioskSeatRow.store_id).where(
        KioskSeatRow.camera_seat_id.is_not(None)).group_by(KioskSeatRow.store_id))).all())
    out = []
    for s in stores:
        if s.store_id not in with_floor:
            continue
        stats, alerts = await store_kiosk_stats(db, s.store_id, start, end)
        sold = sum(d.sold_s for d in stats.days)
        used = sum(d.used_sold_s for d in stats.days)
        out.append(CompareOut(s.store_id, s.name or s.store_id, _h(sold), _h(sum(d.occupied_s for d in stats.days)),
                              round(used / sold, 3) if sold else None, _h(sum(d.hogged_s for d in stats.days)),
                              round(sum(d.unpaid_s for d in stats.days) / 60, 1), alerts["total"]))
    return out


@get("/api/v1/kiosk/stats", tags=["kiosk"])
async def compare_api(request: Request, db: NamedDependency[AsyncSession], frm: FromDate = None,
                      to: ToDate = None) -> list[CompareOut]:
    """The same numbers for every store this user may see, side by side (stores with mapped seats;
    the days in the hub's time zone)."""
    start, end, _ = window(frm, to, time.time(), hub_zone(request))
    return await _compare(request, db, start, end)


@get("/stores/{store_id:str}/kiosk/stats", include_in_schema=False)
async def store_kiosk_stats_page(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
                                 frm: FromDate = None, to: ToDate = None) -> Template:
    t, cookies = translator(request)
    stores = visible_stores(request, await queries.list_stores(db))
    if store_id not in {s.store_id for s in stores}:
        raise queries.NotFound(f"store {store_id!r} not found")
    zone = await page_zone(db, request, store_id)
    start, end, (d0, d1) = window(frm, to, time.time(), zone)
    data = await _store_out(db, store_id, start, end, zone)
    return Template(template_name="hub/kiosk_stats.html", context=page_context(
        request, t, stores, zone=zone, store=next(s for s in stores if s.store_id == store_id), data=data, frm=d0, to=d1,
        kinds=KINDS, compare=await _compare(request, db, start, end)), cookies=cookies)


handlers = [store_kiosk_stats_api, compare_api, store_kiosk_stats_page]
