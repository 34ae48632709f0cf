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

from hub.settings import DEFAULT_TZ

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
