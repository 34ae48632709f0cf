"""Value limits for decoded messages: what the hub's database (and any sane consumer) can store.

A payload can be perfectly valid MessagePack of the right shape and still hold values no table
accepts: a 10 kB boot id, a sequence number past BIGINT, a NUL byte in a label (PostgreSQL text
refuses it), NaN or 1e300 as a time. Checked once, right after decoding and before any database
work, so such a message is dropped alone with a specific reason instead of failing the batch it
arrived in (and every store's messages in that batch with it).

Pure functions, no I/O; the hub calls :func:`message_problem` from one point of its ingest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
from msgspec.structs import astuple

MAX_PAYLOAD_BYTES = 1 << 20  # 1 MiB: a birth of 1000 seats with 16-point polygons is ~300 kB
MAX_SEATS_PER_MESSAGE = 1000  # a store has 30-150 seats; births, deltas and configs list at most this
MAX_POLYGON_POINTS = 64  # seat polygons have 4-12 points
MAX_LIST = 1000  # any other list (channels, item classes)
MIN_TIME = 946_684_800.0  # 2000-01-01 UTC: an edge clock before this was never set
MAX_FUTURE_S = 86_400.0  # a message time more than a day ahead of the hub is not a clock skew
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
MAX_NUMBER = 1e15  # durations, rates, fractions: finite and far below this

# Longest string per field name (matching the hub's column sizes); others get DEFAULT_MAX_STR.
STR_LIMITS: dict[str, int] = {
    "store_id": 63, "edge_id": 63, "seat_id": 63, "boot_id": 64, "label": 200, "name": 200, "type": 40,
    "item_classes": 64, "last_error": 4000, "error": 4000, "reason": 64, "from_state": 16, "to_state": 16,
    "state": 16, "kind": 16,
}
DEFAULT_MAX_STR = 1000
TIME_FIELDS = frozenset({"ts", "since", "at"})
LIST_LIMITS: dict[str, int] = {"seats": MAX_SEATS_PER_MESSAGE, "states": MAX_SEATS_PER_MESSAGE,
                               "changes": MAX_SEATS_PER_MESSAGE, "polygon": MAX_POLYGON_POINTS,
                               "desk": MAX_POLYGON_POINTS}  # a seat's desk zone (issue 12)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a message is refused: ``reason`` is a short stable code (a metric label), ``detail``
    names the field and the value."""

    reason: str  # too_large | bad_string | bad_integer | bad_number | bad_time | too_many
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def payload_problem(payload: bytes | bytearray | memoryview) -> Problem | None:
    n = len(payload)
    if n > MAX_PAYLOAD_BYTES:
        return Problem("too_large", f"payload of {n} bytes exceeds the {MAX_PAYLOAD_BYTES} byte limit")
    return None


def message_problem(msg: msgspec.Struct, now: float) -> Problem | None:
    """The first value in ``msg`` that cannot be stored, or None. ``now``: the receiver's clock,
    for the far-future bound on times."""
    # Almost every message is fine: a fast yes/no walk (per-type field plans, no strings built)
    # answers those; only a refused message takes the walk that names the field and value.
    if _ok_struct(msg, now + MAX_FUTURE_S):
        return None
    return _struct(msg, type(msg).__name__, now)


# ---- the fast check: same rules as ``_value`` below, as a predicate ---------------------------
_Plan = tuple[str, int, int, bool, int]  # field name, string limit, int max, is a time, list limit
_PLANS: dict[type, tuple[_Plan, ...]] = {}
_POINT: _Plan = ("", DEFAULT_MAX_STR, MAX_INT32, False, MAX_LIST)  # tuple items: coordinates


def _plan_of(name: str) -> _Plan:
    return (name, STR_LIMITS.get(name, DEFAULT_MAX_STR), MAX_INT64 if name == "seq" else MAX_INT32,
            name in TIME_FIELDS, LIST_LIMITS.get(name, MAX_LIST))


def _ok_struct(obj: msgspec.Struct, latest: float) -> bool:
    cls = obj.__class__
    plans = _PLANS.get(cls)
    if plans is None:
        plans = _PLANS[cls] = tuple(_plan_of(n) for n in cls.__struct_fields__)
    # the common cases inline (a call per field would cost more than the checks)
    for plan, v in zip(plans, astuple(obj)):
        t = v.__class__
        if t is str:
            if len(v) > plan[1] or "\x00" in v:
                return False
        elif t is float:
            if not (MIN_TIME <= v <= latest if plan[3] else -MAX_NUMBER <= v <= MAX_NUMBER):
                return False  # NaN and inf compare False
        elif t is int:
            if not 0 <= v <= plan[2]:
                return False
        elif v is not None and t is not bool and not _ok(v, plan, latest):
            return False
    return True


def _ok(v: object, plan: _Plan, latest: float) -> bool:
    t = v.__class__
    if t is str:
        return len(v) <= plan[1] and "\x00" not in v  # type: ignore[arg-type]
    if t is float:
        if plan[3]:
            return MIN_TIME <= v <= latest  # type: ignore[operator]  # NaN and inf compare False
        return -MAX_NUMBER <= v <= MAX_NUMBER  # type: ignore[operator]
    if t is int:
        return 0 <= v <= plan[2]  # type: ignore[operator]
    if v is None or t is bool:
        return True
    if isinstance(v, msgspec.Struct):
        return _ok_struct(v, latest)
    if isinstance(v, list):
        return len(v) <= plan[4] and all(_ok(item, plan, latest) for item in v)
    if isinstance(v, tuple):
        return all(_ok(item, _POINT, latest) for item in v)
    if isinstance(v, str | int | float):  # subclasses: the full rules
        return _value(v, plan[0], "", latest - MAX_FUTURE_S) is None
    return True


def _struct(obj: msgspec.Struct, path: str, now: float) -> Problem | None:
    for name in obj.__struct_fields__:
        if (p := _value(getattr(obj, name), name, f"{path}.{name}", now)) is not None:
            return p
    return None


def _value(v: object, name: str, path: str, now: float) -> Problem | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        limit = STR_LIMITS.get(name, DEFAULT_MAX_STR)
        if "\x00" in v:
            return Problem("bad_string", f"{path} contains a NUL byte")
        if len(v) > limit:
            return Problem("bad_string", f"{path} is {len(v)} characters long (at most {limit})")
        return None
    if isinstance(v, int):
        hi = MAX_INT64 if name == "seq" else MAX_INT32
        if not 0 <= v <= hi:
            return Problem("bad_integer", f"{path} = {v} is outside 0..{hi}")
        return None
    if isinstance(v, float):
        if not math.isfinite(v):
            return Problem("bad_number", f"{path} = {v} is not a finite number")
        if name in TIME_FIELDS:
            if v < MIN_TIME:
                return Problem("bad_time", f"{path} = {v} is before 2000-01-01 (edge clock not set?)")
            if v > now + MAX_FUTURE_S:
                return Problem("bad_time", f"{path} = {v} is {v - now:.3g} s ahead of the hub clock")
        elif abs(v) > MAX_NUMBER:
            return Problem("bad_number", f"{path} = {v} is out of range")
        return None
    if isinstance(v, msgspec.Struct):
        return _struct(v, path, now)
    if isinstance(v, list | tuple):
        limit = LIST_LIMITS.get(name, MAX_LIST)
        if len(v) > limit and not isinstance(v, tuple):
            return Problem("too_many", f"{path} has {len(v)} entries (at most {limit})")
        for i, item in enumerate(v):
            # tuples are points (x, y): their coordinates are plain numbers, not times
            if (p := _value(item, "" if isinstance(v, tuple) else name, f"{path}[{i}]", now)) is not None:
                return p
        return None
    if isinstance(v, dict):
        return None
    return None
