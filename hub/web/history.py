"""History page: occupancy heatmap (hour x day), occupancy over time, turnover and average stay
per day, peak hours, per store or per seat, over a date range. Numbers come from the hourly rollups (:mod:`hub.stats.rollup`,
equal to :mod:`hub.stats.compute` on the seat events): the store's hours and one SQL sum per seat
for the whole store, the seat's hours for one seat; nothing reads raw events. The page renders them
as tables (works without JS) and hands the same numbers to the charts; ``/api/v1/stores/{id}/history``
answers the same view as JSON (what the page draws, ~40 KB for 30 days of 100 seats, not every
seat-hour: that is the stats CSV).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Seat
from hub.stats.compute import SeatBucketStats, SeatTimeline, StoreStats, compute_store_stats
from hub.stats.rollup import hour_aligned_zone, store_stats_from_hours, store_stats_from_store_hours
from hub.stats.rollup_db import seat_hour_rows, seat_totals, store_hours
from hub.stats.timelines import load_timelines
from hub.stores import queries
from hub.web.common import SEOUL, page_context, page_zone, script_json, translator, visible_stores
from ui.i18n import Translator

MAX_DAYS = 31  # a month on one heatmap; longer ranges go through the CSV export
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class DayRow:
    day: str
    rate: float | None  # percent
    entries: int
    stays: int
    turnover: float
    avg_stay_min: float | None
    incidents: int


@dataclass(frozen=True)
class SeatRow:
    seat_id: str
    label: str
    rate: float | None  # percent
    stays: int
    avg_stay_min: float | None
    incidents: int


def parse_range(frm: str | None, to: str | None, today: date) -> tuple[date, date]:
    """Inclusive local dates; default the last week up to today. Errors say what to send."""
    try:
        end = date.fromisoformat(to) if to else today
        start = date.fromisoformat(frm) if frm else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"from/to must be dates YYYY-MM-DD (got {frm!r}, {to!r})") from None
    if end < start:
        raise HTTPException(status_code=400, detail=f"'to' ({end}) is before 'from' ({start})")
    if (end - start).days + 1 > MAX_DAYS:
        raise HTTPException(status_code=400, detail=f"at most {MAX_DAYS} days at once; use the CSV export for more")
    return start, end


def _pct(r: float | None) -> float | None:
    return None if r is None else round(r * 100, 1)


def history_view(stats: StoreStats, days: list[date], labels: dict[str, str], zone: ZoneInfo = SEOUL) -> dict[str, Any]:
    """Pure: the statistics turned into the page's tables and the charts' data, in the store's
    zone; every date YYYY-MM-DD (the line's axis too: "2026-12-04 13:00", not "12-04 13:00")."""
    day_keys = [d.isoformat() for d in days]
    day_index = {k: i for i, k in enumerate(day_keys)}
    heat: list[list[Any]] = []
    line_x: list[str] = []
    line_y: list[float | None] = []
    per_day: dict[str, dict[str, float]] = {k: {"stays": 0, "stay_s": 0.0, "entries": 0} for k in day_keys}
    for b in stats.buckets:
        local = datetime.fromtimestamp(b.start, zone)
        key = local.date().isoformat()
        rate = _pct(b.occupancy_rate)
        if key in day_index and rate is not None:
            heat.append([local.hour, day_index[key], rate])
        line_x.append(local.strftime("%Y-%m-%d %H:00"))
        line_y.append(rate)
        if key in per_day:
            per_day[key]["stays"] += b.stays
            per_day[key]["stay_s"] += b.stay_total_s
            per_day[key]["entries"] += b.entries
    day_rows = []
    for d in stats.days:
        k = d.day.isoformat()
        agg = per_day.get(k, {"stays": 0, "stay_s": 0.0, "entries": 0})
        day_rows.append(DayRow(
            day=k, rate=_pct(d.occupancy_rate), entries=int(agg["entries"]), stays=d.stays,
            turnover=round(d.turnover, 2),
            avg_stay_min=round(agg["stay_s"] / agg["stays"] / 60, 1) if agg["stays"] else None,
            incidents=d.abandoned_incidents,
        ))
    seats: dict[str, dict[str, float]] = {}
    for r in stats.seats:
        a = seats.setdefault(r.seat_id, {"busy": 0.0, "known": 0.0, "stays": 0, "stay_s": 0.0, "inc": 0})
        a["busy"] += r.occupied_s + r.away_s
        a["known"] += r.known_s
        a["stays"] += r.stays
        a["stay_s"] += r.stay_total_s
        a["inc"] += r.abandoned_incidents
    seat_rows = [
        SeatRow(sid, labels.get(sid, sid), round(a["busy"] / a["known"] * 100, 1) if a["known"] else None,
                int(a["stays"]), round(a["stay_s"] / a["stays"] / 60, 1) if a["stays"] else None, int(a["inc"]))
        for sid, a in sorted(seats.items(), key=lambda kv: (labels.get(kv[0], kv[0]), kv[0]))
    ]
    return {
        "days": day_rows,
        "seats": seat_rows,
        "peaks": [{"hour": p.hour, "rate": _pct(p.occupancy_rate)} for p in stats.peak_hours],
        "chart": {
            "days": day_keys,
            "hours": [f"{h:02d}" for h in range(24)],
            "zone": zone.key,
            "heat": heat,
            "line": {"x": line_x, "y": line_y},
            "perday": {"x": [r.day for r in day_rows], "turnover": [r.turnover for r in day_rows],
                       "avg_stay": [r.avg_stay_min for r in day_rows]},
        },
    }


def chart_strings(t: Translator, zone: ZoneInfo = SEOUL) -> dict[str, str]:
    """The charts' texts; the time axes name the zone ("시 (Asia/Seoul)")."""
    keys = ("history.heatmap", "history.occupancy", "history.turnover", "history.avg_stay", "history.rate_axis",
            "chart.no_data")
    return {k: t(k) for k in keys} | {k: t(k, zone=zone.key) for k in ("history.hour_axis", "history.time_axis")}


async def history_stats(db: AsyncSession, store_id: str, start: float, end: float, seat: str | None,
                        active: list[str], zone: ZoneInfo) -> StoreStats:
    """The page's numbers from the rollups: for the store its hours and one sum per seat (two small
    queries and one aggregate, in the event loop: no history scan); for one seat its hours. A zone
    with a half-hour offset (its local hours are not the rollups' UTC hours) is computed from the
    raw events, as before the rollups."""
    if hour_aligned_zone(zone, start, end):
        if seat:
            rows = await seat_hour_rows(db, store_id, start, end, seat_ids={seat})
            if rows is not None:
                return store_stats_from_hours(rows, start, end, "hour", zone)
        else:
            series = (await store_hours(db, [store_id], start, end))[store_id]
            totals = await seat_totals(db, store_id, start, end)
            for sid in active:  # a seat never seen: unknown all along (counted, as the raw statistics do)
                if sid not in totals:
                    totals[sid] = SeatBucketStats(seat_id=sid, start=start, end=end, unknown_s=end - start)
            return store_stats_from_store_hours(series, totals.values(), start, end, zone, len(totals))
    # from the raw events: that zone, or one seat with events stored after the window's end in its
    # last hour (the cut of that hour needs them)
    loaded = await load_timelines(db, store_id, start, end)
    timelines = loaded.timelines
    if seat:
        timelines = {seat: timelines.get(seat, SeatTimeline())}
    return compute_store_stats(timelines, start, end, "hour", zone.key)


@dataclass(frozen=True)
class HistoryWindow:
    d0: date
    d1: date
    start: float
    end: float
    today: date
    zone: ZoneInfo


def history_window(frm: str | None, to: str | None, now: float, zone: ZoneInfo) -> HistoryWindow:
    today = datetime.fromtimestamp(now, zone).date()
    d0, d1 = parse_range(frm, to, today)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone).timestamp()
    nd = d1 + timedelta(days=1)
    end = min(datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp(), now)
    return HistoryWindow(d0, d1, start, end, today, zone)


async def _labels(db: AsyncSession, store_id: str) -> dict[str, str]:
    seat_rows = (await db.execute(
        select(Seat.seat_id, Seat.label).where(Seat.store_id == store_id, Seat.active.is_(True))
        .order_by(Seat.channel, Seat.seat_id))).all()
    return {sid: (label or sid) for sid, label in seat_rows}


async def history_data(db: AsyncSession, store_id: str, w: HistoryWindow, seat: str | None,
                       labels: dict[str, str]) -> dict[str, Any]:
    if seat and seat not in labels:
        raise HTTPException(status_code=400, detail=f"seat {seat!r} is not a seat of store {store_id!r}")
    days = [w.d0 + timedelta(days=i) for i in range((w.d1 - w.d0).days + 1)]
    if not w.end > w.start:  # a range entirely in the future has nothing to show yet
        return {"days": [], "seats": [], "peaks": [], "chart": None}
    stats = await history_stats(db, store_id, w.start, w.end, seat, list(labels), w.zone)
    return history_view(stats, [d for d in days if d <= w.today], labels, w.zone)


@get("/stores/{store_id:str}/history", include_in_schema=False)
async def history_page(
    request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
    frm: Annotated[str | None, QueryParameter(name="from", description="first local date, YYYY-MM-DD")] = None,
    to: Annotated[str | None, QueryParameter(description="last local date (inclusive), YYYY-MM-DD")] = None,
    seat: Annotated[str | None, QueryParameter(description="one seat id; all seats when absent")] = None,
) -> Template:
    t, cookies = translator(request)
    stores = visible_stores(request, await queries.list_stores(db))
    if store_id not in {s.store_id for s in stores}:
        raise queries.NotFound(f"store {store_id!r} not found")
    store = next(s for s in stores if s.store_id == store_id)
    zone = await page_zone(db, request, store_id)
    w = history_window(frm, to, time.time(), zone)
    labels = await _labels(db, store_id)
    view = await history_data(db, store_id, w, seat, labels)
    generated = w.end > w.start and await queries.has_generated(db, store_id, w.start, w.end)
    return Template(
        template_name="hub/history.html",
        context=page_context(
            request, t, stores, zone=zone, store=store, frm=w.d0.isoformat(), to=w.d1.isoformat(), seat=seat,
            seat_label=labels.get(seat or "", ""), seat_choices=labels, view=view,
            has_data=any(r.rate is not None for r in view["days"]),
            chart_json=script_json(view["chart"]), chart_i18n=script_json(chart_strings(t, zone)),
            max_days=MAX_DAYS, generated=generated,
        ),
        cookies=cookies,
    )


@get("/api/v1/stores/{store_id:str}/history", summary="What the history page draws (JSON)")
async def history_api(
    request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
    frm: Annotated[str | None, QueryParameter(name="from", description="first local date, YYYY-MM-DD")] = None,
    to: Annotated[str | None, QueryParameter(description="last local date (inclusive), YYYY-MM-DD")] = None,
    seat: Annotated[str | None, QueryParameter(description="one seat id; all seats when absent")] = None,
) -> Response[bytes]:
    """Per day (rate, entries, stays, turnover, average stay, incidents), per seat over the range
    (rate, stays, average stay, incidents), peak hours, and the charts' series: the store's hourly
    occupancy (line) and the hour x day heatmap cells. Per-seat hourly numbers: ``seat=`` here (one
    seat), or ``stats.csv`` for every seat."""
    await queries.get_store(db, store_id)  # 404 for a store that is not there
    w = history_window(frm, to, time.time(), await page_zone(db, request, store_id))
    view = await history_data(db, store_id, w, seat, await _labels(db, store_id))
    body = {"store_id": store_id, "from": w.d0.isoformat(), "to": w.d1.isoformat(), "seat": seat, **view}
    return Response(msgspec.json.encode(body), media_type=MediaType.JSON)
