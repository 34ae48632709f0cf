"""ROI editor: draw and edit seat polygons of one edge's channel, check them by the shared layout
rules (:mod:`protocol.layout`, the same ones the edge applies), save as a new config version
through the config push API (``PUT /api/v1/stores/{store}/edges/{edge}/config``), and follow the
edge's answer: pending, applied or failed.

The drawing is on the channel's newest snapshot (the hub's snapshot API: an admin asks the edge
for one picture, faces blurred; the editor takes the picture's own aspect ratio), otherwise on a
neutral 16:9 canvas (the substream aspect; coordinates are fractions of the frame either way, so
a later snapshot lines up).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Channel, Edge, Seat
from hub.stores import queries
from hub.stores.config_push import ConfigStatus, config_status
from hub.web.common import page_context, page_zone, script_json, translator, visible_stores
from hub.web.kiosk import roi_mapping
from protocol import SeatDef, StateRules
from protocol.layout import layout_problems

ASPECT_W, ASPECT_H = 16, 9


class CheckIn(msgspec.Struct, forbid_unknown_fields=True):
    edge_id: str
    seats: list[SeatDef]


class CheckOut(msgspec.Struct):
    ok: bool
    problems: list[str]


async def known_channels(db: NamedDependency[AsyncSession], store_id: FromPath[str], edge_id: str) -> set[int]:
    """Channels the edge reported (health/birth), else those its seats use: what the push checks."""
    known = set((await db.execute(
        select(Channel.channel).where(Channel.store_id == store_id, Channel.edge_id == edge_id))).scalars())
    if not known:
        known = set((await db.execute(
            select(Seat.channel).where(Seat.store_id == store_id, Seat.edge_id == edge_id))).scalars())
    return known


async def current_layout(db: NamedDependency[AsyncSession], store_id: FromPath[str], edge_id: str,
                         st: ConfigStatus) -> tuple[list[SeatDef], StateRules]:
    """The newest pushed layout if there is one, else the seats the edge reported in its birth."""
    edge = await db.get(Edge, (store_id, edge_id))
    rules = st.rules or (msgspec.convert(edge.rules, StateRules) if edge is not None and edge.rules else StateRules())
    if st.desired_version is not None:
        return list(st.seats), rules
    rows = (await db.execute(
        select(Seat).where(Seat.store_id == store_id, Seat.edge_id == edge_id, Seat.active.is_(True))
        .order_by(Seat.channel, Seat.seat_id))).scalars().all()
    seats = [SeatDef(seat_id=r.seat_id, channel=r.channel, polygon=[(float(x), float(y)) for x, y in r.polygon],
                     label=r.label, type=r.type,
                     desk=None if r.desk is None else [(float(x), float(y)) for x, y in r.desk]) for r in rows]
    return seats, rules


@get("/stores/{store_id:str}/roi", include_in_schema=False)
async def roi_page(request: Request, db: NamedDependency[AsyncSession], store_id: FromPath[str],
                   edge: FromQuery[str | None] = None, channel: FromQuery[int | None] = None) -> Template:

    t, cookies = translator(request)
    stores = visible_stores(request, await queries.list_stores(db))
    if store_id not in {s.store_id for s in stores}:
        raise queries.NotFound(f"store {store_id!r} not found")
    store = next(s for s in stores if s.store_id == store_id)
    edge_ids = list((await db.execute(
        select(Edge.edge_id).where(Edge.store_id == store_id).order_by(Edge.edge_id))).scalars())
    user = request.scope.get("user")
    can_edit = user is None or bool(getattr(user, "is_admin", False))  # config push is for admins
    ctx: dict[str, Any] = {"store": store, "edge_ids": edge_ids, "edge_id": None, "can_edit": can_edit}
    if edge_ids:
        edge_id = edge if edge in edge_ids else edge_ids[0]
        st = await config_status(db, store_id, edge_id)
        seats, rules = await current_layout(db, store_id, edge_id, st)
        names = dict((await db.execute(
            select(Channel.channel, Channel.name).where(Channel.store_id == store_id, Channel.edge_id == edge_id)
        )).all())
        chans = sorted(set(names) | {s.channel for s in seats} | await known_channels(db, store_id, edge_id)) or [1]
        ch = channel if channel in chans else chans[0]
        ctx |= {
            "edge_id": edge_id, "channels": chans, "channel": ch, "channel_names": names, "status": st,
            "status_word": st.status, "aspect": (ASPECT_W, ASPECT_H),
            "seats_here": [s for s in seats if s.channel == ch],
            # issue 18: map this channel's camera seats to kiosk seats (hub/web/kiosk.py)
            "kiosk_map": await roi_mapping(db, store_id, [s.seat_id for s in seats if s.channel == ch]),
            "editor_json": script_json({
                "store_id": store_id, "edge_id": edge_id, "channel": ch,
                "seats": msgspec.to_builtins(seats), "rules": msgspec.to_builtins(rules),
                "status": msgspec.to_builtins(st), "w": 1600, "h": 900, "can_edit": can_edit,
            }),
            "editor_i18n": script_json({k: t(k) for k in (
                "roi.status.none", "roi.status.pending", "roi.status.applied", "roi.status.failed",
                "roi.check_ok", "roi.saved", "roi.hint", "roi.stale", "roi.save_failed", "roi.draw_hint", "roi.need3", "roi.confirm_delete",
                "roi.version", "roi.no_selection", "roi.unsaved", "roi.edge_error", "roi.snapshot_none",
                "roi.snapshot_wait", "roi.snapshot_failed", "roi.snapshot_taken")}),
        }
    return Template(template_name="hub/roi.html", context=page_context(request, t, stores, zone=await page_zone(db, request, store_id), **ctx),
                    cookies=cookies)


@post("/stores/{store_id:str}/roi/check", include_in_schema=False, status_code=200)
async def roi_check(db: NamedDependency[AsyncSession], store_id: FromPath[str], data: JSONBody[CheckIn]) -> CheckOut:
    """The layout's problems by the rules the push and the edge apply (nothing is stored)."""
    await queries.get_store(db, store_id)
    problems = layout_problems(data.seats, await known_channels(db, store_id, data.edge_id) or None)
    return CheckOut(ok=not problems, problems=problems)


handlers = [roi_page, roi_check]
