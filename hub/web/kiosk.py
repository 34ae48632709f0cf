"""Kiosk routes: the seat-link page (status, import button, camera <-> kiosk seat mapping, seats
placed by hand), the signed webhook of the generic adapter, the floor-plan and kiosk-stats API.
``floor_plan`` builds the store page's floor-plan tab.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.guard import PUBLIC
from hub.db.models import Alert, Seat
from hub.kiosk import generic
from hub.kiosk import health as H
from hub.kiosk import store as kstore
from hub.kiosk.floorplan import FloorPlan, FloorSeatIn, build_floor, kiosk_badge
from hub.kiosk.model import KioskError, KioskSnapshot, wall_names
from hub.kiosk.reconcile import KINDS
from hub.kiosk.service import push
from hub.kiosk.settings import GenericSettings
from hub.stores import queries
from hub.web.common import SEOUL, clock_fn, page_context, page_zone, translator, visible_stores
from hub.web.kiosk_report import handlers as report_handlers
from ui.i18n import Translator

# ------------------------------------------------------------------ shared reads


async def kiosk_unknown_since(db: AsyncSession, state: State, store_id: str, now: float) -> tuple[bool, float | None]:
    """(has a kiosk, unknown since or None while known)."""
    s = state.settings.kiosk.get(store_id)
    if s is None:
        return False, None
    return True, H.unknown_since(await kstore.read_health(db, store_id), now, H.stale_after_s(s))


async def floor_plan(db: AsyncSession, state: State, store_id: str, seats: list[queries.SeatOut], now: float,
                     t: Translator, zone: ZoneInfo = SEOUL) -> FloorPlan | None:
    """The store page's floor plan, or None when the store has no floor-plan seats at all."""
    rows = await kstore.floor_rows(db, store_id)
    if not rows:
        return None
    has_kiosk, unknown = await kiosk_unknown_since(db, state, store_id, now)
    h = await kstore.read_health(db, store_id)
    badge = kiosk_badge(has_kiosk, unknown, h.last_ok_at if h else None, h.last_error if h else None, now, t,
                        clock_fn(zone))
    open_alerts = (await db.execute(select(Alert.seat_id, Alert.kind).where(
        Alert.store_id == store_id, Alert.closed_at.is_(None), Alert.kind.in_(KINDS)))).all()
    alerts: dict[str, list[str]] = {}
    for sid, kind in open_alerts:
        alerts.setdefault(sid or "", []).append(kind)
    return build_floor(
        (FloorSeatIn(r.kiosk_seat_id, r.section, r.row, r.col, r.label, r.product, r.walls, r.camera_seat_id,
                     r.state if r.source == "kiosk" else None, r.remaining_s) for r in rows),
        {s.seat_id: (s.state, s.since, s.label, s.resumed) for s in seats}, alerts, unknown is None, now, t, badge)


async def roi_mapping(db: AsyncSession, store_id: str, seat_ids: list[str]) -> dict[str, Any]:
    """For the ROI editor's mapping panel: the kiosk seat of each camera seat on this channel
    (camera seats the hub knows), the choices, and what is unmapped on both sides store-wide."""
    rows = await kstore.floor_rows(db, store_id)
    known = (await db.execute(select(Seat.seat_id, Seat.label).where(
        Seat.store_id == store_id, Seat.active.is_(True)).order_by(Seat.channel, Seat.seat_id))).all()
    by_cam = {r.camera_seat_id: r for r in rows if r.camera_seat_id}
    labels = dict(known)
    return {
        "here": [(sid, labels[sid]) for sid in seat_ids if sid in labels],
        "by_cam": by_cam, "kiosk_rows": [r for r in rows if r.source == "kiosk"],
        "unmapped_cams": [label or sid for sid, label in known if sid not in by_cam],
        "unmapped_kiosk": [r.label for r in rows if r.source == "kiosk" and not r.camera_seat_id],
    }


async def kiosk_tiles(db: AsyncSession, state: State, store_ids: list[str], now: float) -> dict[str, float | None]:
    """For the HQ overview: store id -> None (kiosk known) or since when unknown; stores without
    a kiosk are left out."""
    out: dict[str, float | None] = {}
    for sid in store_ids:
        has, unknown = await kiosk_unknown_since(db, state, sid, now)
        if has:
            out[sid] = unknown
    return out


def kiosk_strings(t: Translator) -> dict[str, str]:
    """What ``/static/hub/floorplan.js`` needs to re-label kiosk marks and alert lines."""
    keys = [f"kiosk.state.{k}" for k in ("free", "sold", "in_use", "unknown")] + ["kiosk.remaining"]
    return {k: t(k) for k in keys} | {f"alert.{k}": t(f"alert.{k}") for k in KINDS}


# ------------------------------------------------------------------ API


class KioskSeatOut(msgspec.Struct):
    kiosk_seat_id: str
    source: str
    section: str
    row: int
    col: int
    label: str
    product: str
    walls: list[str]
    camera_seat_id: str | None
    state: str | None  # free | sold | in_use; null: placed by hand
    state_since: float | None
    remaining_s: int | None
    alerts: list[str]


class KioskStatusOut(msgspec.Struct):
    store_id: str
    adapter: str | None  # gosca | generic | null (no kiosk)
    known: bool
    unknown_since: float | None
    last_ok_at: float | None
    last_error: str | None
    failures: int
    seats: list[KioskSeatOut]


@get("/api/v1/stores/{store_id:str}/kiosk", tags=["kiosk"])
async def kiosk_api(state: State, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> KioskStatusOut:
    """The store's floor-plan seats with their kiosk state (no customer data: there is none) and the
    kiosk link's health; ``known`` false means the kiosk states are stale ("unknown since")."""
    await queries.get_store(db, store_id)
    now = time.time()
    has, unknown = await kiosk_unknown_since(db, state, store_id, now)
    h = await kstore.read_health(db, store_id)
    open_alerts = (await db.execute(select(Alert.seat_id, Alert.kind).where(
        Alert.store_id == store_id, Alert.closed_at.is_(None), Alert.kind.in_(KINDS)))).all()
    by_seat: dict[str, list[str]] = {}
    for sid, kind in open_alerts:
        by_seat.setdefault(sid or "", []).append(kind)
    rows = await kstore.floor_rows(db, store_id)
    return KioskStatusOut(
        store_id=store_id, adapter=state.settings.kiosk[store_id].__struct_config__.tag if has else None,
        known=has and unknown is None, unknown_since=unknown if has else None,
        last_ok_at=h.last_ok_at if h else None, last_error=h.last_error if h else None,
        failures=h.failures if h else 0,
        seats=[KioskSeatOut(r.kiosk_seat_id, r.source, r.section, r.row, r.col, r.label, r.product,
                            wall_names(r.walls), r.camera_seat_id, r.state, r.state_since, r.remaining_s,
                            sorted(by_seat.get(r.camera_seat_id or "", []))) for r in rows])


class ImportOut(msgspec.Struct):
    added: list[str]
    removed: list[str]
    back: list[str]
    kept_mappings: int
    problems: list[str]


def _report(rep: kstore.ImportReport) -> ImportOut:
    return ImportOut(rep.added, rep.removed, rep.back, rep.kept_mappings, rep.problems)


@post("/api/v1/stores/{store_id:str}/kiosk/import", tags=["kiosk"], status_code=200)
async def kiosk_import_api(request: Request, state: State, store_id: FromPath[str]) -> ImportOut:
    """Import the seat list (admins). Body: a seat list as JSON (``application/json``) or CSV
    (``text/csv``), see docs/kiosk.md; an empty body reads the store's kiosk now (GoSca).
    Existing camera mappings are kept; seats no longer listed are reported as removed."""
    body = await request.body()
    try:
        snap: KioskSnapshot | None = None
        if body.strip():
            ctype = request.headers.get("content-type", "")
            snap = generic.parse_file("upload.csv" if "csv" in ctype else "upload.json", body)
        rep = await state.kiosk.import_seats(store_id, snap)
    except KioskError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _report(rep)


class WebhookOut(msgspec.Struct):
    ok: bool
    changed: int
    problems: list[str]


@post("/api/v1/stores/{store_id:str}/kiosk/webhook", opt=PUBLIC, tags=["kiosk"], status_code=200)
async def kiosk_webhook(request: Request, state: State, store_id: FromPath[str]) -> Response:
    """The generic adapter's signed webhook (docs/kiosk.md): seat states from a kiosk vendor.
    No login; the HMAC signature with the store's secret, a fresh timestamp and a signature never
    used before are required."""
    s = state.settings.kiosk.get(store_id)
    if not isinstance(s, GenericSettings):
        return Response({"detail": f"store {store_id!r} has no generic kiosk webhook"}, status_code=404,
                        media_type=MediaType.JSON)
    body = await request.body()
    now = time.time()
    try:
        generic.verify(s.secret, request.headers.get("x-seat-timestamp"), request.headers.get("x-seat-signature"),
                       body, now)
    except generic.WebhookRefused as exc:
        return Response({"detail": str(exc)}, status_code=exc.status, media_type=MediaType.JSON)
    try:
        snap = generic.parse_json(body)
    except KioskError as exc:
        return Response({"detail": str(exc)}, status_code=400, media_type=MediaType.JSON)
    async with state.sessionmaker() as db:
        try:
            await kstore.ensure_store(db, store_id, now)
            fresh = await kstore.remember_signature(
                db, store_id, generic.replay_key(request.headers["x-seat-signature"]), now, 2 * generic.WEBHOOK_SKEW_S)
        except IntegrityError:
            fresh = False
        if not fresh:
            return Response({"detail": "this signature was used before (replay)"}, status_code=409,
                            media_type=MediaType.JSON)
        rep = await kstore.apply_states(db, store_id, snap, now)
        h = await kstore.read_health(db, store_id) or H.Health("generic")
        await kstore.write_health(db, store_id, H.after_ok(h, now, None, len(snap.seats)))
        await db.commit()
    if rep.changed or not h.ok:
        await push(state.live, store_id, True, rep.changed)
    return Response(WebhookOut(True, rep.changed_state, rep.problems), media_type=MediaType.JSON)


# ------------------------------------------------------------------ the seat-link page


async def _page(request: Request, db: AsyncSession, store_id: str, report: kstore.ImportReport | None = None,
                error: str | None = None) -> Template:
    t, cookies = translator(request)
    stores = visible_stores(request, await queries.list_stores(db))
    if store_id not in {s.store_id for s in stores}:
        raise queries.NotFound(f"store {store_id!r} not found")
    store = next(s for s in stores if s.store_id == store_id)
    now = time.time()
    state = request.app.state
    zone = await page_zone(db, request, store_id)
    has, unknown = await kiosk_unknown_since(db, state, store_id, now)
    h = await kstore.read_health(db, store_id)
    badge = kiosk_badge(has, unknown, h.last_ok_at if h else None, h.last_error if h else None, now, t,
                        clock_fn(zone))
    cams = (await db.execute(select(Seat).where(Seat.store_id == store_id, Seat.active.is_(True))
                             .order_by(Seat.channel, Seat.seat_id))).scalars().all()
    rows = await kstore.floor_rows(db, store_id)
    kiosk_rows = [r for r in rows if r.source == "kiosk"]
    by_cam = {r.camera_seat_id: r for r in rows if r.camera_seat_id}
    user = request.scope.get("user")
    return Template(template_name="hub/kiosk.html", context=page_context(
        request, t, stores, zone=zone, store=store, badge=badge, adapter=state.settings.kiosk[store_id].__struct_config__.tag
        if has else None, cams=cams, by_cam=by_cam, kiosk_rows=kiosk_rows,
        unmapped_cams=[c for c in cams if c.seat_id not in by_cam],
        unmapped_kiosk=[r for r in kiosk_rows if not r.camera_seat_id], report=report, error=error,
        can_edit=bool(getattr(user, "is_admin", False)), health=h,
    ), cookies=cookies)


@get("/stores/{store_id:str}/kiosk", include_in_schema=False)
async def kiosk_page(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> Template:
    return await _page(request, db, store_id)


@post("/stores/{store_id:str}/kiosk/import", include_in_schema=False, status_code=200)
async def kiosk_import_form(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> Template:
    """The admin's import button."""
    try:
        rep = await request.app.state.kiosk.import_seats(store_id)
    except KioskError as exc:
        return await _page(request, db, store_id, error=str(exc))
    return await _page(request, db, store_id, report=rep)


@post("/stores/{store_id:str}/kiosk/map", include_in_schema=False)
async def kiosk_map_form(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> Any:
    """One form for every camera seat: field ``map:{camera seat id}`` = a kiosk seat id or ""."""
    form = await request.form()
    now = time.time()
    wanted = {k[4:]: str(v) for k, v in form.items() if k.startswith("map:")}
    taken: dict[str, str] = {}
    for cam, kid in wanted.items():
        if kid and kid in taken:
            return await _page(request, db, store_id, error=request_t(request)(
                "kiosk.map_twice", seat=kid, a=taken[kid], b=cam))
        if kid:
            taken[kid] = cam
    try:
        for cam in wanted:  # unmap first, so seats can swap places in one save
            await kstore.set_mapping(db, store_id, cam, None, now)
        for cam, kid in wanted.items():
            if kid:
                await kstore.set_mapping(db, store_id, cam, kid, now)
    except kstore.MappingError as exc:
        await db.rollback()
        return await _page(request, db, store_id, error=str(exc))
    await db.commit()
    # Back to where the form was (the ROI editor's panel posts here too); only a page of this store.
    nxt = str(form.get("next", ""))
    back = nxt if nxt.startswith(f"/stores/{store_id}/") and "//" not in nxt and "\\" not in nxt else None
    return Redirect(back or f"/stores/{store_id}/kiosk", status_code=303)


@post("/stores/{store_id:str}/kiosk/place", include_in_schema=False)
async def kiosk_place_form(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str]) -> Any:
    """Place a camera seat on the floor-plan grid by hand (a store without a kiosk)."""
    form = await request.form()
    try:
        row, col = int(str(form.get("row", ""))), int(str(form.get("col", "")))
        await kstore.place_manual(db, store_id, str(form.get("camera_seat_id", "")), str(form.get("section", "A")),
                                  row, col, time.time())
    except ValueError as exc:  # MappingError is a ValueError; so is a row that is not a number
        await db.rollback()
        return await _page(request, db, store_id, error=str(exc))
    await db.commit()
    return Redirect(f"/stores/{store_id}/kiosk", status_code=303)


def request_t(request: Request) -> Translator:
    return translator(request)[0]



handlers = [*report_handlers, kiosk_api, kiosk_import_api, kiosk_webhook, kiosk_page, kiosk_import_form, kiosk_map_form,
            kiosk_place_form]
