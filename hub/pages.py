"""Server-rendered dashboard pages (work without JavaScript) and the live WebSocket per store."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, WebSocket, get, websocket
from litestar.datastructures import Cookie, State
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import queries
from hub.access import principal, visible
from hub.config_push import config_status
from hub.db.models import Alert
from protocol import SEAT_STATES
from ui.i18n import Translator, format_duration, pick_lang
from ui.messages_hub import MESSAGES

SEOUL = ZoneInfo("Asia/Seoul")  # the stores' clock for alert times on the page
MAP_W, MAP_H = 1600, 900  # SVG user units; polygons are normalised 0..1 (16:9 substream frames)


def _translator(request: Request) -> tuple[Translator, list[Cookie]]:
    query = request.query_params.get("lang")
    lang = pick_lang(query, request.cookies.get("lang"))
    cookies = [Cookie(key="lang", value=lang, max_age=365 * 86400, samesite="lax")] if query == lang else []
    return Translator(MESSAGES, lang), cookies


def _seat_view(seat: queries.SeatOut, t: Translator) -> dict[str, Any]:
    pts = seat.polygon or [[0, 0]]
    cx = sum(p[0] for p in pts) / len(pts) * MAP_W
    cy = sum(p[1] for p in pts) / len(pts) * MAP_H
    return {
        "seat": seat,
        "state_name": t(f"state.{seat.state}"),
        "duration": format_duration(seat.state_for_s, t),
        "points": " ".join(f"{p[0] * MAP_W:.1f},{p[1] * MAP_H:.1f}" for p in pts),
        "cx": round(cx, 1),
        "cy": round(cy, 1),
    }


def _js_i18n(t: Translator) -> str:
    keys = [f"state.{s}" for s in SEAT_STATES] + [f"priority.{p}" for p in ("critical", "high", "low")] + [
        "dur.sec", "dur.min", "dur.hour", "dur.day", "live.connected", "live.disconnected", "edge.online", "edge.offline",
    ]
    # Escape '<' so the JSON can never close the <script> element it sits in.
    return json.dumps({k: t(k) for k in keys}, ensure_ascii=False).replace("<", "\\u003c")


class Pages(Controller):
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, db: AsyncSession) -> Template:
        t, cookies = _translator(request)
        stores = visible(principal(request), await queries.list_stores(db))
        return Template(
            template_name="hub/index.html",
            context={"t": t, "lang": t.lang, "stores": stores, "states": SEAT_STATES},
            cookies=cookies,
        )

    @get("/stores/{store_id:str}")
    async def store(self, request: Request, db: AsyncSession, store_id: str) -> Template:
        t, cookies = _translator(request)
        detail = await queries.store_detail(db, store_id)
        seats = await queries.list_seats(db, store_id)
        alerts = (await db.execute(
            select(Alert).where(Alert.store_id == store_id, Alert.closed_at.is_(None))
            .order_by(Alert.opened_at.desc()).limit(50)
        )).scalars().all()
        configs = {e.edge_id: await config_status(db, store_id, e.edge_id) for e in detail.edges}
        channels: dict[int, list[dict[str, Any]]] = defaultdict(list)
        views = [_seat_view(s, t) for s in seats]
        for v in views:
            channels[v["seat"].channel].append(v)
        return Template(
            template_name="hub/store.html",
            context={
                "t": t, "lang": t.lang, "store": detail, "seats": views, "channels": dict(sorted(channels.items())),
                "states": SEAT_STATES, "map_w": MAP_W, "map_h": MAP_H, "i18n_json": _js_i18n(t),
                "now": time.time(), "alerts": alerts, "configs": configs,
                "opened": lambda ts: datetime.fromtimestamp(ts, SEOUL).strftime("%m-%d %H:%M"),
            },
            cookies=cookies,
        )


@websocket("/ws/stores/{store_id:str}")
async def live_store(socket: WebSocket, store_id: str) -> None:
    """Pushes every committed change of this store as JSON: {type: "update", seats: [...], edges: [...]}."""
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

    pump_task = asyncio.create_task(pump())
    try:
        await socket.send_json({"type": "hello", "store_id": store_id})
        while True:  # only to notice the client leaving; clients send nothing meaningful
            await socket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        pump_task.cancel()
        live.unsubscribe(store_id, q)
