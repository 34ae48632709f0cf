"""Statistics and alerts over HTTP: JSON, CSV and a server-rendered page (works without JS).

Statistics are computed on query from the seat events (:mod:`hub.stats.compute`), so events replayed
after an outage count as soon as they land. The database is reached through
``request.app.state.sessionmaker``. Access control is the app's: its guards apply to this router.
"""

from __future__ import annotations

import asyncio
import atexit
import csv
import io
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.guard import principal, require_store
from hub.db.models import Alert, Seat, SeatEvent, SeatStateRow, Store
from hub.stats.compute import (
    DEFAULT_TZ,
    STATES,
    SeatTimeline,
    StatsInputError,
    StoreStats,
    compute_store_stats,
    zone_for,
)

log = logging.getLogger(__name__)

MAX_WINDOW_S = 92 * 86400.0  # a quarter: bounds the work one request can ask for

# ------------------------------------------------------------------ output types


class BucketOut(msgspec.Struct):
    start: float
    end: float
    start_local: str
    occupied_s: float
    empty_s: float
    away_s: float
    abandoned_s: float
    unknown_s: float
    occupancy_rate: float | None
    entries: int
    stays: int
    avg_stay_s: float | None
    abandoned_incidents: int
    seats: int | None = None
    seat_id: str | None = None


class DayOut(msgspec.Struct):
    day: str
    seats: int
    stays: int
    turnover: float
    abandoned_incidents: int
    occupancy_rate: float | None


class PeakOut(msgspec.Struct):
    hour: int
    occupancy_rate: float


class StatsOut(msgspec.Struct):
    store_id: str
    from_: float = msgspec.field(name="from")
    to: float
    bucket: str
    tz: str
    buckets: list[BucketOut]  # store totals per bucket
    seats: list[BucketOut]  # per seat per bucket, ordered by seat then time
    days: list[DayOut]
    peak_hours: list[PeakOut]
    skipped_events: int = 0  # rows with a state name the statistics do not know (logged)


class AlertOut(msgspec.Struct):
    id: int
    store_id: str
    seat_id: str | None
    edge_id: str | None
    kind: str
    priority: str
    message: str
    opened_at: float
    closed_at: float | None
    last_sent_at: float | None
    delivered: bool
    attempts: int
    last_error: str | None


# ------------------------------------------------------------------ query parsing (pure)


def parse_time(value: str, zone: ZoneInfo, name: str) -> float:
    """Epoch seconds, or ISO 8601 (a date or datetime; without an offset it is store-local)."""
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise HTTPException(
            status_code=400, detail=f"{name}: {value!r} is neither epoch seconds nor ISO 8601"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.timestamp()


def resolve_window(frm: str | None, to: str | None, tz: str, now: float) -> tuple[float, float, ZoneInfo]:
    try:
        zone = zone_for(tz)
    except StatsInputError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    end = parse_time(to, zone, "to") if to else now
    if frm:
        start = parse_time(frm, zone, "from")
    else:  # default: today from local midnight
        d = datetime.fromtimestamp(end, zone).date()
        start = datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()
        if start >= end:
            start = end - 86400.0
    if end <= start:
        raise HTTPException(status_code=400, detail="'to' must be after 'from'")
    if end - start > MAX_WINDOW_S:
        raise HTTPException(
            status_code=400, detail=f"window longer than {int(MAX_WINDOW_S // 86400)} days; ask for less"
        )
    return start, end, zone


# ------------------------------------------------------------------ database -> timelines


@dataclass
class LoadedTimelines:
    timelines: dict[str, SeatTimeline]
    skipped: int


async def load_timelines(db: AsyncSession, store_id: str, start: float, end: float) -> LoadedTimelines:
    """Each seat's state at ``start`` (its last event before, else its current state if that
    began earlier) and its events inside the window, in capture-time order."""
    seat_ids = set(
        (await db.scalars(select(Seat.seat_id).where(Seat.store_id == store_id, Seat.active.is_(True)))).all()
    )
    ranked = (
        select(
            SeatEvent.seat_id,
            SeatEvent.to_state,
            SeatEvent.at,
            func.row_number()
            .over(partition_by=SeatEvent.seat_id, order_by=(SeatEvent.at.desc(), SeatEvent.id.desc()))
            .label("rn"),
        )
        .where(SeatEvent.store_id == store_id, SeatEvent.at < start)
        .subquery()
    )
    before = (
        await db.execute(select(ranked.c.seat_id, ranked.c.to_state, ranked.c.at).where(ranked.c.rn == 1))
    ).all()
    inside = (
        await db.execute(
            select(SeatEvent.seat_id, SeatEvent.to_state, SeatEvent.at)
            .where(SeatEvent.store_id == store_id, SeatEvent.at >= start, SeatEvent.at < end)
            .order_by(SeatEvent.at, SeatEvent.id)
        )
    ).all()
    current = (
        await db.execute(
            select(SeatStateRow.seat_id, SeatStateRow.state, SeatStateRow.since).where(
                SeatStateRow.store_id == store_id
            )
        )
    ).all()
    skipped = 0
    initial: dict[str, tuple[str, float]] = {}
    for seat_id, state, since in current:  # a state known from a snapshot, no event before start
        if since <= start and state in STATES:
            initial[seat_id] = (state, since)
    for seat_id, state, at in before:
        if state in STATES:
            initial[seat_id] = (state, at)
        else:
            skipped += 1
    transitions: dict[str, list[tuple[float, str]]] = {}
    for seat_id, state, at in inside:
        if state not in STATES:
            skipped += 1
            continue
        transitions.setdefault(seat_id, []).append((at, state))
    if skipped:
        log.warning(
            "store %s: %d seat events with unknown state names left out of the statistics", store_id, skipped
        )
    seat_ids |= set(transitions)
    timelines = {}
    for sid in seat_ids:
        init = initial.get(sid)
        timelines[sid] = SeatTimeline(
            initial=init[0] if init else None,
            initial_since=init[1] if init else None,
            transitions=transitions.get(sid, []),
        )
    return LoadedTimelines(timelines, skipped)


async def _store_or_404(db: AsyncSession, store_id: str) -> Store:
    store = await db.get(Store, store_id)
    if store is None:
        raise NotFoundException(detail=f"store {store_id!r} not found")
    return store


async def store_stats(
    request: Request, store_id: str, start: float, end: float, bucket: str, zone: ZoneInfo
) -> tuple[StoreStats, int, Store]:
    if bucket not in ("hour", "day"):
        raise HTTPException(status_code=400, detail=f"bucket must be 'hour' or 'day', not {bucket!r}")
    async with request.app.state.sessionmaker() as db:
        store = await _store_or_404(db, store_id)
        loaded = await load_timelines(db, store_id, start, end)
    # Pure CPU work (seconds for 30 days of a big store): in a worker thread, so the event loop
    # keeps serving live updates meanwhile (it only shares the GIL with it, in 5 ms slices).
    stats = await asyncio.to_thread(compute_store_stats, loaded.timelines, start, end, bucket, zone.key)
    return stats, loaded.skipped, store


# 30 days of a 150-seat store is ~2 s of pure Python and a 100k-row answer. In a thread it still
# stalls the live updates (each WebSocket send gives up the GIL and waits up to the 5 ms switch
# interval to get it back: bench/bench_live.py, py-spy); in a worker process it does not.
_pool: ProcessPoolExecutor | None = None


def _stats_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn: the hub has threads (paho, asyncio's executor), so no fork
        # niced: statistics are batch work and must not take the CPU from the live updates
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=os.nice, initargs=(10,))
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def stats_json(store_id: str, timelines: dict[str, SeatTimeline], start: float, end: float, bucket: str, tz: str,
               skipped: int) -> bytes:
    """The JSON answer of /stats from loaded timelines."""
    return msgspec.json.encode(stats_out(store_id, compute_store_stats(timelines, start, end, bucket, tz), skipped))


def stats_json_from_db(db_url: str, store_id: str, start: float, end: float, bucket: str, tz: str) -> bytes:
    """In the stats worker process: load the events itself (its own short-lived engine), compute,
    encode. Loading 70,000 rows in the hub held its event loop for a good part of a second, and
    handing them over (pickling) would cost the hub as much again."""
    from sqlalchemy.pool import NullPool

    from hub.db.session import make_engine, make_sessionmaker

    async def load() -> LoadedTimelines:
        engine = make_engine(db_url, poolclass=NullPool)
        try:
            async with make_sessionmaker(engine)() as db:
                return await load_timelines(db, store_id, start, end)
        finally:
            await engine.dispose()

    loaded = asyncio.run(load())
    return stats_json(store_id, loaded.timelines, start, end, bucket, tz, loaded.skipped)


async def store_stats_json(request: Request, store_id: str, start: float, end: float, bucket: str,
                           zone: ZoneInfo) -> bytes:
    global _pool
    if bucket not in ("hour", "day"):
        raise HTTPException(status_code=400, detail=f"bucket must be 'hour' or 'day', not {bucket!r}")
    async with request.app.state.sessionmaker() as db:
        await _store_or_404(db, store_id)
    args = (request.app.state.settings.database.url, store_id, start, end, bucket, zone.key)
    try:
        return await asyncio.get_running_loop().run_in_executor(_stats_pool(), stats_json_from_db, *args)
    except BrokenProcessPool:
        log.warning("statistics worker process died; computing in a thread (restarting it next time)")
        _pool = None
        async with request.app.state.sessionmaker() as db:
            loaded = await load_timelines(db, store_id, start, end)
        return await asyncio.to_thread(stats_json, store_id, loaded.timelines, start, end, bucket, zone.key,
                                       loaded.skipped)


def _bucket_out(row: Any, zone: ZoneInfo, seats: int | None = None, seat_id: str | None = None) -> BucketOut:
    return BucketOut(
        start=row.start,
        end=row.end,
        start_local=datetime.fromtimestamp(row.start, zone).isoformat(),
        occupied_s=row.occupied_s,
        empty_s=row.empty_s,
        away_s=row.away_s,
        abandoned_s=row.abandoned_s,
        unknown_s=row.unknown_s,
        occupancy_rate=row.occupancy_rate,
        entries=row.entries,
        stays=row.stays,
        avg_stay_s=row.avg_stay_s,
        abandoned_incidents=row.abandoned_incidents,
        seats=seats,
        seat_id=seat_id,
    )


def stats_out(store_id: str, s: StoreStats, skipped: int) -> StatsOut:
    zone = ZoneInfo(s.tz)
    return StatsOut(
        store_id=store_id,
        from_=s.start,
        to=s.end,
        bucket=s.bucket,
        tz=s.tz,
        buckets=[_bucket_out(b, zone, seats=b.seats) for b in s.buckets],
        seats=[_bucket_out(r, zone, seat_id=r.seat_id) for r in s.seats],
        days=[
            DayOut(d.day.isoformat(), d.seats, d.stays, d.turnover, d.abandoned_incidents, d.occupancy_rate)
            for d in s.days
        ],
        peak_hours=[PeakOut(p.hour, p.occupancy_rate) for p in s.peak_hours],
        skipped_events=skipped,
    )


CSV_COLUMNS = (
    "scope",
    "seat_id",
    "start_local",
    "start",
    "end",
    "occupied_s",
    "empty_s",
    "away_s",
    "abandoned_s",
    "unknown_s",
    "occupancy_rate",
    "entries",
    "stays",
    "avg_stay_s",
    "abandoned_incidents",
)


def stats_csv(out: StatsOut) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for scope, rows in (("store", out.buckets), ("seat", out.seats)):
        for r in rows:
            w.writerow(
                [
                    scope,
                    r.seat_id or "",
                    r.start_local,
                    r.start,
                    r.end,
                    r.occupied_s,
                    r.empty_s,
                    r.away_s,
                    r.abandoned_s,
                    r.unknown_s,
                    "" if r.occupancy_rate is None else round(r.occupancy_rate, 6),
                    r.entries,
                    r.stays,
                    "" if r.avg_stay_s is None else round(r.avg_stay_s, 3),
                    r.abandoned_incidents,
                ]
            )
    return buf.getvalue()


# ------------------------------------------------------------------ handlers


@get("/api/v1/stores/{store_id:str}/stats", summary="Seat statistics per bucket (time-weighted)")
async def get_stats(
    request: Request,
    store_id: FromPath[str],
    frm: Annotated[
        str | None, QueryParameter(name="from", description="epoch seconds or ISO 8601 (store-local)")
    ] = None,
    to: Annotated[str | None, QueryParameter(description="exclusive; default now")] = None,
    bucket: Annotated[str, QueryParameter(description="hour | day")] = "hour",
    tz: Annotated[str, QueryParameter(description="IANA time zone of the store")] = DEFAULT_TZ,
) -> Response[StatsOut]:
    start, end, zone = resolve_window(frm, to, tz, time.time())
    body = await store_stats_json(request, store_id, start, end, bucket, zone)  # encoded off the loop
    return Response(body, media_type=MediaType.JSON)


@get("/api/v1/stores/{store_id:str}/stats.csv", summary="Seat statistics as CSV")
async def get_stats_csv(
    request: Request,
    store_id: FromPath[str],
    frm: Annotated[str | None, QueryParameter(name="from")] = None,
    to: FromQuery[str | None] = None,
    bucket: FromQuery[str] = "hour",
    tz: FromQuery[str] = DEFAULT_TZ,
) -> Response[str]:
    start, end, zone = resolve_window(frm, to, tz, time.time())
    s, skipped, _ = await store_stats(request, store_id, start, end, bucket, zone)
    body = await asyncio.to_thread(lambda: stats_csv(stats_out(store_id, s, skipped)))
    name = f"stats-{store_id}-{datetime.fromtimestamp(start, zone):%Y%m%d%H%M}-{bucket}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@get("/api/v1/alerts", summary="Alerts, newest first")
async def get_alerts(
    request: Request,
    store_id: FromQuery[str | None] = None,
    open_: Annotated[
        bool | None, QueryParameter(name="open", description="true: open only; false: closed only")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    q = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    user = principal(request)
    if store_id is not None:
        require_store(user, store_id)
        q = q.where(Alert.store_id == store_id)
    elif user is not None and not user.all_stores:  # staff: their stores' alerts only
        q = q.where(Alert.store_id.in_(sorted(user.store_ids)))
    if open_ is True:
        q = q.where(Alert.closed_at.is_(None))
    elif open_ is False:
        q = q.where(Alert.closed_at.is_not(None))
    async with request.app.state.sessionmaker() as db:
        rows = (await db.scalars(q)).all()
    return [
        AlertOut(
            r.id,
            r.store_id,
            r.seat_id,
            r.edge_id,
            r.kind,
            r.priority,
            r.message,
            r.opened_at,
            r.closed_at,
            r.last_sent_at,
            r.delivered,
            r.attempts,
            r.last_error,
        )
        for r in rows
    ]


# ------------------------------------------------------------------ old page address

@get("/stores/{store_id:str}/stats", summary="Statistics page (moved)", include_in_schema=False)
async def stats_page(
    store_id: FromPath[str],
    day: Annotated[str | None, QueryParameter(description="local date YYYY-MM-DD")] = None,
) -> Redirect:
    """The day view moved to the history page (charts by ECharts, tables without JS); old links and
    bookmarks land there on the same day."""
    target = f"/stores/{quote(store_id, safe='')}/history"
    if day:
        try:
            d = date.fromisoformat(day).isoformat()
        except ValueError:
            raise HTTPException(status_code=400, detail=f"day: {day!r} is not a date (YYYY-MM-DD)") from None
        target += f"?from={d}&to={d}"
    return Redirect(path=target, status_code=301)


router = Router(path="/", route_handlers=[get_stats, get_stats_csv, get_alerts, stats_page])

__all__ = ["load_timelines", "resolve_window", "router", "stats_csv"]
