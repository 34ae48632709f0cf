"""What every hub page shares: the store clock, the page language, the store picker, and safe
helpers for times and inline JSON. The page modules (overview and store, history, ROI editor,
kiosk floor plan) build on this; none of them imports another page module for it."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.datastructures import Cookie

from hub.auth.guard import principal, visible
from hub.params import store_zone, zone_label
from hub.settings import DEFAULT_TZ
from hub.stores import queries
from ui.i18n import Translator, format_duration, pick_lang
from ui.messages_hub import MESSAGES

SEOUL = ZoneInfo(DEFAULT_TZ)  # the default zone (hub.toml `timezone`); pages use page_zone / hub_zone


def translator(request: Request) -> tuple[Translator, list[Cookie]]:
    """The page language (``?lang=`` wins and is remembered in a cookie, Korean by default)."""
    query = request.query_params.get("lang")
    lang = pick_lang(query, request.cookies.get("lang"))
    cookies = [Cookie(key="lang", value=lang, max_age=365 * 86400, samesite="lax")] if query == lang else []
    return Translator(MESSAGES, lang), cookies


def script_json(data: Any) -> str:
    """JSON for a <script type="application/json"> element; '<' escaped so it can never close it."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def kst(ts: float | None, fmt: str = "%Y-%m-%d %H:%M", zone: ZoneInfo = SEOUL) -> str:
    """A time in the hub's one date format ("2026-12-04 22:33") in ``zone`` (the footer names
    it); empty for none or a time that is no date (one bad row never breaks a page)."""
    try:
        return "" if ts is None else datetime.fromtimestamp(ts, zone).strftime(fmt)
    except (OverflowError, ValueError, OSError):
        return ""


def clock_fn(zone: ZoneInfo):
    """``kst`` bound to a page's zone, for the templates (``kst(ts)``, ``kst(ts, "%H:%M")``)."""
    return lambda ts, fmt="%Y-%m-%d %H:%M": kst(ts, fmt, zone)


def hub_zone(request: Request) -> ZoneInfo:
    """The zone of the pages about several stores (overview, users): hub.toml ``timezone``."""
    return store_zone(None, request.app.state.settings.timezone)


async def page_zone(db, request: Request, store_id: str) -> ZoneInfo:
    """The zone of one store's pages: the store's own, else the hub's."""
    return await queries.zone_of(db, store_id, request.app.state.settings.timezone)


def zone_context(zone: ZoneInfo, now: float, scope: str = "store") -> dict[str, Any]:
    """What base.html needs to name the page's zone (footer) and hand it to the scripts
    (``body[data-zone]``); ``kst`` writes the page's times in it."""
    return {"zone_name": zone.key, "zone_label": zone_label(zone, now), "zone_scope": scope, "kst": clock_fn(zone)}


def ago_fn(now: float, t: Translator):
    """``ago(ts)``: how long before ``now``, in words; empty for none or a time that is no date."""
    return lambda ts: format_duration(now - ts, t) if ts is not None and math.isfinite(ts) else ""


def visible_stores(request: Request, stores: list[queries.StoreSummary]) -> list[queries.StoreSummary]:
    """The stores this request's user may see (staff: their assigned stores only). The app's
    guard has already refused a request without a login."""
    user = principal(request)
    return visible(user, stores) if user is not None else []


def page_context(request: Request, t: Translator, stores: list[queries.StoreSummary], *,
                 zone: ZoneInfo | None = None, **extra: Any) -> dict[str, Any]:
    """What ``hub/base.html`` needs on every page: language, the store picker, the current path,
    and the page's zone: ``zone`` (a store's page: ``page_zone``), else the hub's."""
    other = "en" if t.lang == "ko" else "ko"
    query = {k: v for k, v in request.query_params.items() if k != "lang"} | {"lang": other}
    clock = zone_context(zone, time.time()) if zone is not None else zone_context(hub_zone(request), time.time(), "hub")
    return {"t": t, "lang": t.lang, "nav_stores": stores, "path": request.url.path,
            "lang_href": "?" + urlencode(query), **clock, **extra}


