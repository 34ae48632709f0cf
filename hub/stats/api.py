"""Statistics and alerts over HTTP: JSON and CSV.

Statistics come from the hourly rollups (:mod:`hub.stats.rollup`, kept by the ingest writer, late
events included, so events replayed after an outage count as soon as they land), shaped by
:mod:`hub.stats.schemas`. Windows the rollups cannot answer exactly (a start inside an hour, a time
zone with a half-hour offset, events stored after the window's end in its last hour) are computed
from the raw events (:mod:`hub.stats.compute`, loaded by :mod:`hub.stats.timelines`). Either way the
work, JSON and CSV alike, runs in a worker process, so the live updates never wait for it. The database is reached through ``request.app.state.sessionmaker``.
Access control is the app's: its guards apply to this router.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime
from typing import Annotated
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
from hub.db.models import Alert, Seat, SeatEvent, Store
from hub.params import parse_time
from hub.stats.compute import (
    STATES,
    StatsInputError,
    StoreStats,
    compute_store_stats,
    zone_for,
)
from hub.stats.rollup import hour_aligned_zone, hour_floor, store_stats_from_hours
from hub.stats.rollup_db import seat_hour_rows
from hub.stats.schemas import AlertOut, StatsOut, stats_csv, stats_out
from hub.stats.timelines import load_timelines
from hub.stores.queries import zone_of

log = logging.getLogger(__name__)

MAX_WINDOW_S = 92 * 86400.0  # a quarter: bounds the work one request can ask for


async def store_tz(request: Request, store_id: str, tz: str | None) -> str:
    """The zone a statistics request means: ``tz`` when given, else the store's own (else the hub's)."""
    if tz:
        return tz
    async with request.app.state.sessionmaker() as db:
        return (await zone_of(db, store_id, request.app.state.settings.timezone)).key


def resolve_window(frm: str | None, to: str | None, tz: str, now: float) -> tuple[float, float, ZoneInfo]:
    try:
        zone = zone_for(tz)
    except StatsInputError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    end = parse_time(to, "to", zone) if to else now
    if frm:
        start = parse_time(frm, "from", zone)
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


async def _store_or_404(db: AsyncSession, store_id: str) -> Store:
    store = await db.get(Store, store_id)
    if store is None:
        raise NotFoundException(detail=f"store {store_id!r} not found")
    return store


# 30 days of a 150-seat store is ~2 s of pure Python and a 100k-row answer. In a thread it still
# stalls the live updates (each WebSocket send gives up the GIL and waits up to the 5 ms switch
# interval to get it back: bench/bench_live.py, py-spy); in a worker process it does not.
_pool: ProcessPoolExecutor | None = None


def _worker_init(parent_pid: int) -> None:
    """In each statistics worker: die with the hub, even when the hub is SIGKILLed (Linux
    PR_SET_PDEATHSIG), and run niced: statistics are batch work and must not take the CPU from the
    live updates. Without this, workers outlived a stopped hub (~100 MB orphans each)."""
    import signal

    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the app's shutdown still stops the pool
        pass
    if os.getppid() != parent_pid:  # the hub died before prctl took effect
        os._exit(0)
    os.nice(10)


def _stats_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn: the hub has threads (paho, asyncio's executor), so no fork
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_worker_init, initargs=(os.getpid(),))
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def shutdown_stats_pool(timeout: float = 5.0) -> None:
    """Stop the statistics workers (the app's shutdown calls it; blocking, run it in a thread).
    A computation under way is not waited for: the hub is stopping and nobody reads the answer."""
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    procs = list((pool._processes or {}).values())  # noqa: SLF001 - shutdown() cannot terminate
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout)


async def load_stats(db: AsyncSession, store_id: str, start: float, end: float, bucket: str,
                     tz: str) -> tuple[StoreStats, int]:
    """The statistics of a window and the number of events left out (unknown state names): from the
    rollups when they answer it exactly, else from the raw events."""
    zone = zone_for(tz)
    if start == hour_floor(start) and hour_aligned_zone(zone, start, end):
        active = set((await db.scalars(select(Seat.seat_id).where(
            Seat.store_id == store_id, Seat.active.is_(True)))).all())
        rows = await seat_hour_rows(db, store_id, start, end, active=active)
        if rows is not None:
            skipped = (await db.execute(select(func.count()).select_from(SeatEvent).where(
                SeatEvent.store_id == store_id, SeatEvent.at >= start, SeatEvent.at < end,
                SeatEvent.to_state.not_in(STATES)))).scalar_one()
            if skipped:
                log.warning("store %s: %d seat events with unknown state names left out of the statistics",
                            store_id, skipped)
            return store_stats_from_hours(rows, start, end, bucket, zone), skipped
    loaded = await load_timelines(db, store_id, start, end)
    return compute_store_stats(loaded.timelines, start, end, bucket, tz), loaded.skipped


def stats_from_db(db_url: str, store_id: str, start: float, end: float, bucket: str, tz: str,
                  fmt: str = "json") -> bytes:
    """In the stats worker process: load (its own short-lived engine), compute, encode. Loading
    70,000 rows in the hub held its event loop for a good part of a second, and handing them over
    (pickling) would cost the hub as much again."""
    from sqlalchemy.pool import NullPool

    from hub.db.session import make_engine, make_sessionmaker

    async def load() -> tuple[StoreStats, int]:
        engine = make_engine(db_url, poolclass=NullPool)
        try:
            async with make_sessionmaker(engine)() as db:
                return await load_stats(db, store_id, start, end, bucket, tz)
        finally:
            await engine.dispose()

    stats, skipped = asyncio.run(load())
    out = stats_out(store_id, stats, skipped)
    return msgspec.json.encode(out) if fmt == "json" else stats_csv(out).encode()


async def store_stats_body(request: Request, store_id: str, start: float, end: float, bucket: str,
                           zone: ZoneInfo, fmt: str = "json") -> bytes:
    global _pool
    if bucket not in ("hour", "day"):
        raise HTTPException(status_code=400, detail=f"bucket must be 'hour' or 'day', not {bucket!r}")
    async with request.app.state.sessionmaker() as db:
        await _store_or_404(db, store_id)
    args = (request.app.state.settings.database.url, store_id, start, end, bucket, zone.key, fmt)
    try:
        return await asyncio.get_running_loop().run_in_executor(_stats_pool(), stats_from_db, *args)
    except BrokenProcessPool:
        log.warning("statistics worker process died; computing in a thread (restarting it next time)")
        _pool = None
        return await asyncio.to_thread(stats_from_db, *args)


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
    tz: Annotated[str | None, QueryParameter(
        description="IANA time zone for the buckets and for times without an offset; default: the store's")] = None,
) -> Response[StatsOut]:
    start, end, zone = resolve_window(frm, to, await store_tz(request, store_id, tz), time.time())
    body = await store_stats_body(request, store_id, start, end, bucket, zone)  # encoded off the loop
    return Response(body, media_type=MediaType.JSON)


@get("/api/v1/stores/{store_id:str}/stats.csv", summary="Seat statistics as CSV")
async def get_stats_csv(
    request: Request,
    store_id: FromPath[str],
    frm: Annotated[str | None, QueryParameter(name="from")] = None,
    to: FromQuery[str | None] = None,
    bucket: FromQuery[str] = "hour",
    tz: FromQuery[str | None] = None,
) -> Response[str]:
    start, end, zone = resolve_window(frm, to, await store_tz(request, store_id, tz), time.time())
    body = await store_stats_body(request, store_id, start, end, bucket, zone, "csv")
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

__all__ = ["resolve_window", "router"]
