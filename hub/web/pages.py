"""Server-rendered dashboard pages (they work without JavaScript) and the live WebSocket per store.

- ``/``: HQ overview, one tile per store (occupied / total, abandoned, edges with last seen),
  sortable, and a chart comparing the stores' occupancy over today.
- ``/stores/{id}``: the store view: store picker, seat map per channel (shared template with the
  edge's fallback page), ticking timers, alerts panel, live WebSocket updates.
History (``hub/web/history.py``) and the ROI editor (``hub/web/roi.py``) have their own modules.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, WebSocket, get, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.guard import principal
from hub.auth.users import SESSION_COOKIE, principal_for_token
from hub.db.models import Alert, Channel, Edge, Snapshot
from hub.stats.compute import compute_store_stats
from hub.stats.rollup import hour_aligned_zone
from hub.stats.rollup_db import store_hours
from hub.stats.timelines import load_timelines
from hub.stores import queries
from hub.stores.config_push import config_status
from hub.stores.snapshots import KEEP_S
from hub.web.common import (
    SEOUL,
    ago_fn,
    hub_zone,
    kst,
    page_context,
    page_zone,
    script_json,
    translator,
    visible_stores,
)
from hub.web.kiosk import floor_plan, kiosk_strings, kiosk_tiles
from protocol import SEAT_STATES
from protocol.live import Hello, encode_live
from ui import seatmap
from ui.i18n import Translator

SORTS = ("name", "occupancy", "abandoned", "offline")


# ---------------------------------------------------------------- overview (pure helpers)


class Tile(msgspec.Struct):
    store_id: str
    name: str
    seats: int
    occupied: int  # seats taken: occupied + away + abandoned (someone holds them)
    abandoned: int
    unknown: int
    rate: float | None  # occupied / known seats
    edges_online: int
    edges_offline: int
    last_seen: float | None  # newest message from any of the store's edges (hub clock)
    offline_since: float | None  # the oldest edge outage still going on
    moved: list[int] = []  # channels whose camera moved from the desk references (issue 17)


def make_tiles(stores: list[queries.StoreSummary], edges: list[Edge],
               moved: dict[str, list[int]] | None = None) -> list[Tile]:
    """``moved``: per store, the channels whose edge reports the camera moved (redraw or re-take)."""
    moved = moved or {}
    by_store: dict[str, list[Edge]] = {}
    for e in edges:
        by_store.setdefault(e.store_id, []).append(e)
    tiles = []
    for s in stores:
        es = by_store.get(s.store_id, [])
        c = s.counts
        taken = c.occupied + c.away + c.abandoned
        known = s.seats - c.unknown
        outages = [e.offline_since for e in es if not e.online and e.offline_since is not None]
        tiles.append(Tile(
            store_id=s.store_id, name=s.name or s.store_id, seats=s.seats, occupied=taken, abandoned=c.abandoned,
            unknown=c.unknown, rate=taken / known if known > 0 else None,
            edges_online=s.edges_online, edges_offline=s.edges_offline,
            last_seen=max((e.last_seen for e in es), default=None),
            offline_since=min(outages) if outages else None,
            moved=sorted(set(moved.get(s.store_id, []))),
        ))
    return tiles


def sort_tiles(tiles: list[Tile], sort: str) -> list[Tile]:
    """name: A-Z; occupancy: fullest first; abandoned: most first; offline: stores with a down
    edge first (then by how long). Ties always fall back to the name, so the order is stable."""
    by_name = sorted(tiles, key=lambda x: (x.name, x.store_id))
    if sort == "occupancy":
        return sorted(by_name, key=lambda x: -(x.rate if x.rate is not None else -1))
    if sort == "abandoned":
        return sorted(by_name, key=lambda x: -x.abandoned)
    if sort == "offline":
        return sorted(by_name, key=lambda x: (x.edges_offline == 0, x.offline_since or 0.0))
    return by_name


def day_start(now: float, zone: ZoneInfo = SEOUL) -> float:
    d = datetime.fromtimestamp(now, zone).date()
    return datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()


async def occupancy_today(db: AsyncSession, store_ids: list[str], now: float,
                          zone: ZoneInfo = SEOUL) -> dict[str, Any]:
    """Hourly occupancy rate per store since midnight in ``zone`` (the overview's: the hub's),
    for the comparison chart; ``day`` and ``zone`` name the axis. From the store-hour rollups of
    every store at once (two queries), not a computation per store (65 s for 500 stores when each
    was computed from its raw events, in the event loop); a zone with a half-hour offset (its hours
    are not the rollups' UTC hours) is computed from the raw events, store by store."""
    start = day_start(now, zone)
    end = max(now, start + 1.0)
    hours = [f"{h:02d}" for h in range(24)]
    series = {}
    if hour_aligned_zone(zone, start, end):
        by_store = await store_hours(db, store_ids, start, end)
    else:
        by_store = {}
        for sid in store_ids:
            loaded = await load_timelines(db, sid, start, end)
            by_store[sid] = compute_store_stats(loaded.timelines, start, end, "hour", zone.key).buckets
    for sid, rows in by_store.items():
        rates: list[float | None] = [None] * 24
        for b in rows:
            r = b.occupancy_rate
            rates[datetime.fromtimestamp(b.start, zone).hour] = None if r is None else round(r * 100, 1)
        series[sid] = rates
    return {"hours": hours, "series": series, "day": datetime.fromtimestamp(start, zone).date().isoformat(),
            "zone": zone.key}


# ---------------------------------------------------------------- store view (pure helpers)


class PanelAlert(msgspec.Struct):
    """One line of the store's alerts panel."""

    kind: str
    priority: str
    text: str
    opened: str
    alert_id: int | None = None


ALERT_KINDS = ("seat_abandoned", "seat_vacant", "edge_offline", "channel_down",
               "kiosk_hogging", "kiosk_unpaid", "kiosk_checkout_items")  # the last three: hub.kiosk.reconcile


async def camera_stills(db: AsyncSession, request: Request, store_id: str, now: float) -> dict[int, str]:
    """Admins (who may see snapshots) get each channel's newest face-blurred still behind its seat
    map, so the seats sit on the room instead of an empty canvas; others get none."""
    user = principal(request)
    if user is None or not user.is_admin:
        return {}
    rows = (await db.execute(
        select(Snapshot.id, Snapshot.channel).where(
            Snapshot.store_id == store_id, Snapshot.jpeg.is_not(None), Snapshot.requested_at >= now - KEEP_S)
        .order_by(Snapshot.requested_at.desc()).limit(200))).all()
    out: dict[int, str] = {}
    for sid, ch in rows:
        out.setdefault(ch, f"/api/v1/stores/{store_id}/snapshots/{sid}/image")
    return out


def alert_text(kind: str, message: str, seat_id: str | None, edge_id: str | None, labels: dict[str, str],
               t: Translator) -> str:
    """The alert in the page's language (the stored message is the Korean one sent to staff);
    a kind this page does not know shows the stored message as it is."""
    if kind not in ALERT_KINDS:
        return message
    return t(f"alert.{kind}", seat=labels.get(seat_id or "", seat_id or ""), edge=edge_id or "")


def channel_alerts(detail: queries.StoreDetail, t: Translator, zone: ZoneInfo = SEOUL) -> list[PanelAlert]:
    """Camera channels reported down by an online edge (shown even before the alert service's
    grace time, so the counter staff see why a seat reads unknown)."""
    out = []
    for e in detail.edges:
        if not e.online:
            continue
        for c in e.channels:
            if not c.online:
                out.append(PanelAlert("channel_down", "high",
                                      t("alert.channel", n=c.channel, name=c.name or "", edge=e.edge_id),
                                      kst(c.updated_at, zone=zone)))
    return out


def camera_moved_alerts(detail: queries.StoreDetail, t: Translator, zone: ZoneInfo = SEOUL) -> list[PanelAlert]:
    """Channels whose picture drifted from the edge's desk references beyond its tolerance (the
    camera was bumped): the desks read from the detector alone until the seats are redrawn or
    the reference re-taken, so staff must hear it (issue 17)."""
    return [PanelAlert("camera_moved", "low", t("channel.moved_n", n=c.channel, name=c.name or "", edge=e.edge_id),
                       kst(c.updated_at, zone=zone))
            for e in detail.edges for c in e.channels if c.camera_moved]


class Pages(Controller):
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, db: NamedDependency[AsyncSession], sort: FromQuery[str] = "name") -> Template:
        t, cookies = translator(request)
        stores = visible_stores(request, await queries.list_stores(db))
        ids = {s.store_id for s in stores}
        edges = [e for e in (await db.execute(select(Edge))).scalars().all() if e.store_id in ids]
        sort = sort if sort in SORTS else "name"
        moved: dict[str, list[int]] = {}
        for store_id, channel in (await db.execute(
                select(Channel.store_id, Channel.channel).where(Channel.camera_moved.is_(True)))).all():
            if store_id in ids:
                moved.setdefault(store_id, []).append(channel)
        tiles = sort_tiles(make_tiles(stores, edges, moved), sort)
        now = time.time()
        zone = hub_zone(request)
        chart = await occupancy_today(db, [x.store_id for x in tiles], now, zone)
        chart["names"] = {x.store_id: x.name for x in tiles}

        return Template(
            template_name="hub/index.html",
            context=page_context(
                request, t, stores, tiles=tiles, sort=sort, sorts=SORTS, now=now,
                kiosk=await kiosk_tiles(db, request.app.state, [x.store_id for x in tiles], now),
                ago=ago_fn(now, t),
                chart_json=script_json(chart), chart_i18n=script_json({"rate": t("overview.chart_rate"), "chart.no_data": t("chart.no_data"),
                                       "history.hour_axis": t("history.hour_axis", zone=f"{chart['day']}, {zone.key}")}),
            ),
            cookies=cookies,
        )

    @get("/stores")
    async def pick_store(self, store: FromQuery[str] = "") -> Redirect:
        """The store picker's form target (works without JS)."""
        return Redirect(path=f"/stores/{store}" if store else "/")

    @get("/stores/{store_id:str}")
    async def store(self, request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
                    view: FromQuery[str] = "") -> Template:

        t, cookies = translator(request)
        stores = visible_stores(request, await queries.list_stores(db))
        if store_id not in {s.store_id for s in stores}:
            raise queries.NotFound(f"store {store_id!r} not found")
        detail = await queries.store_detail(db, store_id, request.app.state.settings.timezone)
        zone = await page_zone(db, request, store_id)
        seats = await queries.list_seats(db, store_id)
        now = time.time()
        rows = (await db.execute(
            select(Alert).where(Alert.store_id == store_id, Alert.closed_at.is_(None))
            .order_by(Alert.opened_at.desc()).limit(50)
        )).scalars().all()
        labels = {s.seat_id: s.label for s in seats}
        alerts = [PanelAlert(a.kind, a.priority, alert_text(a.kind, a.message, a.seat_id, a.edge_id, labels, t),
                             kst(a.opened_at, zone=zone), a.id) for a in rows]
        if not any(a.kind == "channel_down" for a in alerts):
            alerts += channel_alerts(detail, t, zone)
        alerts += camera_moved_alerts(detail, t, zone)
        channels = seatmap.seat_cells(
            (seatmap.SeatInput(s.seat_id, s.label, s.channel, s.state, s.since, s.polygon, s.resumed) for s in seats),
            now, t)
        names = {c.channel: c.name for e in detail.edges for c in e.channels}
        configs = {e.edge_id: await config_status(db, store_id, e.edge_id) for e in detail.edges}
        by_id = {c.seat_id: c for cells in channels.values() for c in cells}
        # Floor plan (issue 18) first when the store has one; the per-camera map is the second tab.
        floor = await floor_plan(db, request.app.state, store_id, seats, now, t, zone)
        view = "camera" if floor is None or view == "camera" else "floor"
        stills = await camera_stills(db, request, store_id, now)
        return Template(
            template_name="hub/store.html",
            context=page_context(
                request, t, stores, zone=zone, store=detail, channels=channels, channel_names=names, floor=floor, view=view,
                stills=stills,
                kiosk_json=script_json(kiosk_strings(t)),
                seats=[by_id[s.seat_id] for s in seats], states=SEAT_STATES, alerts=alerts, now=now,
                alert_rules=request.app.state.settings.alerts, configs=configs,
                ago=ago_fn(now, t),
                seatmap_json=script_json(seatmap.js_strings(t)),
                live_json=script_json({k: t(k) for k in (
                    "live.connected", "live.disconnected", "live.connecting", "edge.online", "edge.offline",
                    "priority.critical", "priority.high", "priority.low", *(f"alert.{k}" for k in ALERT_KINDS))}),
            ),
            cookies=cookies,
        )


@websocket("/ws/stores/{store_id:str}")
async def live_store(socket: WebSocket, store_id: FromPath[str]) -> None:
    """Pushes every committed change of this store: ``protocol.live`` messages as JSON (hello first)."""
    state: State = socket.app.state
    async with state.sessionmaker() as db:
        try:
            await queries.get_store(db, store_id)
        except queries.NotFound:
            await socket.close(code=4404, reason=f"store {store_id!r} not found")
            return
    await socket.accept()
    live = state.live
    q = live.subscribe(store_id)

    async def pump() -> None:
        while True:
            await socket.send_text((await q.get()).text)  # encoded once per update, for all clients

    async def recheck() -> None:
        """The rights the socket was opened with are not forever: each ``auth.ws_recheck_s`` the
        session is looked up again (one indexed query), and the socket is closed when it ended
        (logout, expiry, user disabled: 4401) or no longer sees this store (role change: 4403)."""
        every = state.settings.auth.ws_recheck_s
        while True:
            try:  # a logout on this replica wakes it at once (hub.web.ws_sessions)
                await asyncio.wait_for(woken.wait(), every)
            except TimeoutError:
                pass
            woken.clear()
            async with state.sessionmaker() as db:
                now_user = await principal_for_token(db, token) if token else None
            if now_user is None or not now_user.can_see(store_id):
                code, why = (4401, "session ended") if now_user is None else (4403, "no access to this store")
                await socket.close(code=code, reason=why)
                return

    token = socket.cookies.get(SESSION_COOKIE, "")
    woken = state.ws_sessions.register(token)
    pump_task = asyncio.create_task(pump())
    check_task = asyncio.create_task(recheck())
    receive: asyncio.Future | None = None
    try:
        await socket.send_text(encode_live(Hello(store_id=store_id)).decode())
        receive = asyncio.ensure_future(socket.receive_text())
        while True:  # only to notice the client leaving; clients send nothing meaningful
            done, _ = await asyncio.wait({receive, check_task}, return_when=asyncio.FIRST_COMPLETED)
            if check_task in done:
                break  # closed for lost rights
            receive.result()  # raises WebSocketDisconnect when the client left
            receive = asyncio.ensure_future(socket.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        pump_task.cancel()
        check_task.cancel()
        if receive is not None and not receive.done():
            receive.cancel()
        state.ws_sessions.unregister(token, woken)
        live.unsubscribe(store_id, q)
