"""History page: occupancy heatmap (hour x day), occupancy over time, turnover and average stay
per day, peak hours, per store or per seat, over a date range. Numbers come from the statistics
code (:mod:`hub.stats.compute` on the seat events, loaded by :func:`hub.stats.api.load_timelines`); the
page renders them as tables (works without JS) and hands the same numbers to the charts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Seat
from hub.stats.compute import StoreStats, compute_store_stats
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
    now = time.time()
    zone = await page_zone(db, request, store_id)
    today = datetime.fromtimestamp(now, zone).date()
    d0, d1 = parse_range(frm, to, today)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone).timestamp()
    nd = d1 + timedelta(days=1)
    end = min(datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp(), now)
    seat_rows = (await db.execute(
        select(Seat.seat_id, Seat.label).where(Seat.store_id == store_id, Seat.active.is_(True))
        .order_by(Seat.channel, Seat.seat_id))).all()
    labels = {sid: (label or sid) for sid, label in seat_rows}
    if seat and seat not in labels:
        raise HTTPException(status_code=400, detail=f"seat {seat!r} is not a seat of store {store_id!r}")
    days = [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]
    view: dict[str, Any] = {"days": [], "seats": [], "peaks": [], "chart": None}
    generated = end > start and await queries.has_generated(db, store_id, start, end)
    if end > start:  # a range entirely in the future has nothing to show yet
        loaded = await load_timelines(db, store_id, start, end)
        timelines = loaded.timelines
        if seat:
            timelines = {seat: timelines[seat]} if seat in timelines else {}
        stats = compute_store_stats(timelines, start, end, "hour", zone.key)
        view = history_view(stats, [d for d in days if d <= today], labels, zone)
    return Template(
        template_name="hub/history.html",
        context=page_context(
            request, t, stores, zone=zone, store=store, frm=d0.isoformat(), to=d1.isoformat(), seat=seat,
            seat_label=labels.get(seat or "", ""), seat_choices=labels, view=view,
            has_data=any(r.rate is not None for r in view["days"]),
            chart_json=script_json(view["chart"]), chart_i18n=script_json(chart_strings(t, zone)),
            max_days=MAX_DAYS, generated=generated,
        ),
        cookies=cookies,
    )
