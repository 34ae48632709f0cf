"""GoSca (the chain's kiosk / seat-management system): its seat list, read over HTTP.

``GET {base_url}/gosca/seatlist?pstore={store_code}`` answers JSON with a ``components`` array;
each component with ``celltype == "chair"`` is a seat: ``section``, ``cell_row``, ``cell_col``
(seat id ``{section}-{cell_row}-{cell_col}``), ``prdname`` (product: 고정석 fixed, 충전권
prepaid, otherwise daily), ``cuseyn`` ("Y": sold and checked in), ``uname`` (the customer's
name: only read as "someone holds this seat", never kept), ``remaintimeval`` (remaining time,
text), ``walltop``/``wallbottom``/``wallleft``/``wallright`` (1: the plan draws a wall there).

:func:`parse_seatlist` is pure (bytes in, :class:`KioskSnapshot` out); :class:`GoScaAdapter`
does the HTTP.
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import httpx
import msgspec

from hub.kiosk.model import WALL_BITS, KioskError, KioskSeat, KioskSnapshot

MAX_BODY = 5 * 1024 * 1024  # a seat list of a few hundred seats is ~200 kB; more is not a seat list

_HMS = re.compile(r"^\s*(\d{1,4}):(\d{1,2})(?::(\d{1,2}))?\s*$")
_KO = re.compile(r"^\s*(?:(\d+)\s*일)?\s*(?:(\d+)\s*시간)?\s*(?:(\d+)\s*분)?\s*(?:(\d+)\s*초)?\s*$")


def parse_remaining(text: Any) -> int | None:
    """GoSca's ``remaintimeval`` in seconds: "02:30" / "02:30:00" (hours:minutes[:seconds]),
    "2시간 30분", "3일", "150" (minutes). None when empty or not understood (shown as unknown)."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        # inf/nan from a JSON parser that allows them: not a time
        return max(0, int(text)) * 60 if math.isfinite(text) else None
    s = str(text).strip()
    if not s:
        return None
    if s.isascii() and s.isdigit():  # str.isdigit() is also true for '²', which int() refuses
        return int(s) * 60
    m = _HMS.match(s)
    if m:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)
    m = _KO.match(s)
    if m and any(m.groups()):
        d, h, mi, se = (int(g or 0) for g in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + se
    return None


def product_of(prdname: Any) -> str:
    if not isinstance(prdname, str) or not prdname.strip():
        return ""
    if "고정석" in prdname:
        return "fixed"
    if "충전권" in prdname:
        return "prepaid"
    return "daily"


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool):
        raise ValueError(f"{name} is {v!r}, not a number")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    raise ValueError(f"{name} is {v!r}, not a whole number")


def _flag(v: Any) -> bool:
    return v in (1, "1", True, "Y", "y")


def parse_seatlist(body: bytes) -> KioskSnapshot:
    """GoSca's seat list -> seats. Garbage (not JSON, no ``components`` list) is a KioskError;
    a single malformed seat is left out and named in ``problems``."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise KioskError(f"GoSca answered something that is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("components"), list):
        raise KioskError("GoSca's answer has no 'components' list (not a seat list)")
    seats: dict[str, KioskSeat] = {}
    problems: list[str] = []
    for i, c in enumerate(data["components"]):
        if not isinstance(c, dict) or c.get("celltype") != "chair":
            continue
        try:
            section = str(c.get("section", "")).strip()
            if not section or len(section) > 40:
                raise ValueError(f"section is {c.get('section')!r}")
            row, col = _int(c.get("cell_row"), "cell_row"), _int(c.get("cell_col"), "cell_col")
            if not (0 <= row < 1000 and 0 <= col < 1000):
                raise ValueError(f"cell {row},{col} is off any plan")
        except ValueError as exc:
            problems.append(f"component {i}: {exc}")
            continue
        sid = f"{section}-{row}-{col}"
        if sid in seats:
            problems.append(f"component {i}: seat {sid} listed twice (the first is kept)")
            continue
        in_use = c.get("cuseyn") == "Y"
        # uname is read only as "someone holds this seat"; its value is dropped right here.
        held = isinstance(c.get("uname"), str) and bool(c["uname"].strip())
        walls = sum(bit for side, bit in WALL_BITS.items() if _flag(c.get(f"wall{side}")))
        seats[sid] = KioskSeat(
            kiosk_seat_id=sid, section=section, row=row, col=col, label=sid,
            product=product_of(c.get("prdname")),
            state="in_use" if in_use else ("sold" if held else "free"),
            remaining_s=parse_remaining(c.get("remaintimeval")) if (in_use or held) else None,
            walls=walls,
        )
    return KioskSnapshot(seats=list(seats.values()), problems=problems)


class GoScaAdapter:
    """Reads one store's seat list from GoSca. ``fetch`` raises KioskError for anything that is
    not a usable seat list (timeouts included), never anything else."""

    kind = "gosca"
    polls = True

    def __init__(self, base_url: str, store_code: str, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url = base_url.rstrip("/") + "/gosca/seatlist"
        self.store_code = store_code
        self.timeout_s = timeout_s
        self._client = client

    async def fetch(self) -> KioskSnapshot:
        client = self._client or httpx.AsyncClient()
        try:
            try:
                # One deadline for the whole answer: a kiosk that trickles bytes is as slow as one
                # that says nothing (httpx's timeout is per read).
                async with asyncio.timeout(self.timeout_s), client.stream(
                        "GET", self.url, params={"pstore": self.store_code}, timeout=self.timeout_s) as r:
                    if r.status_code != 200:
                        raise KioskError(f"GoSca answered HTTP {r.status_code}")
                    body = bytearray()
                    async for chunk in r.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            raise KioskError(f"GoSca's answer is larger than {MAX_BODY} bytes")
            except (httpx.TimeoutException, TimeoutError):
                raise KioskError(f"GoSca did not answer within {self.timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise KioskError(f"GoSca unreachable: {exc.__class__.__name__}: {exc}") from None
        finally:
            if self._client is None:
                await client.aclose()
        return parse_seatlist(bytes(body))
