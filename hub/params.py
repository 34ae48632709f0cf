"""Query parameters shared by the hub's HTTP handlers: one reading of a time.

The rule (the same for every endpoint that takes ``from``/``to``): epoch seconds (UTC by
definition), or ISO 8601. An ISO time with an offset (``+09:00``) or ``Z`` means exactly that; one
without an offset, or a bare date, is the store's local time (``Asia/Seoul`` unless the endpoint
takes a ``tz``), because that is the clock staff read the dashboard in. Before this module the
events API read offset-less times as UTC and the statistics API as store time: 9 hours apart.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from litestar.exceptions import ClientException

from hub.settings import DEFAULT_TZ, zone_known

_STORE_ZONE = ZoneInfo(DEFAULT_TZ)


def parse_time(value: str, name: str, zone: ZoneInfo | None = None) -> float:
    """Epoch seconds of ``value``; a 400 that says what to send otherwise."""
    v = value.strip()
    try:
        t = float(v)
    except ValueError:
        pass
    else:
        if not math.isfinite(t):  # nan, inf: no time at all (nan compares false with everything: HTTP 500 before)
            raise ClientException(f"{name}: {value!r} is not a time; send epoch seconds or ISO 8601")
        return t
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ClientException(
            f"{name}: {value!r} is neither epoch seconds nor ISO 8601 (e.g. 2026-03-01T09:00 in store time, "
            f"or with an offset: 2026-03-01T00:00Z)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone or _STORE_ZONE)
    return dt.timestamp()


def parse_optional_time(value: str | None, name: str, zone: ZoneInfo | None = None) -> float | None:
    return None if value is None or value == "" else parse_time(value, name, zone)


# -- time zones (docs/operations.md, "Time"): a store's own zone, else the hub's --------------------


def store_zone(store_tz: str | None, hub_tz: str = DEFAULT_TZ) -> ZoneInfo:
    """The zone a store's times are shown, parsed and bucketed in: its own (``stores.timezone``)
    when set, else the hub's (``timezone`` in hub.toml). A stored name this machine no longer
    knows falls back to the hub's rather than breaking every page of the store."""
    if store_tz and zone_known(store_tz):
        return ZoneInfo(store_tz)
    return ZoneInfo(hub_tz) if zone_known(hub_tz) else _STORE_ZONE


def zone_label(zone: ZoneInfo, at: float) -> str:
    """How a page names its zone: "Asia/Seoul (KST, UTC+09:00)"; the abbreviation is left out
    where the zone has none ("+04")."""
    try:
        dt = datetime.fromtimestamp(at, zone)
    except (OverflowError, ValueError, OSError):
        return zone.key
    off = dt.strftime("%z")
    utc = f"UTC{off[:3]}:{off[3:]}"
    abbr = dt.tzname() or ""
    return f"{zone.key} ({abbr}, {utc})" if abbr and not abbr.startswith(("+", "-")) else f"{zone.key} ({utc})"

