"""ROI config push: validate a seat layout the way the edge does, store a new version, publish it.

The hub must not import ``edge_agent``, so the checks are repeated here (pure functions); the
edge validates again and answers with a ConfigAck either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Channel, ConfigRow, Edge, Seat
from protocol import Config, SeatDef, StateRules, TopicError, validate_id


class LayoutError(ValueError):
    """The layout is invalid; ``problems`` lists every reason, one per seat/issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _orient(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a, b, p) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_intersect(p1, p2, q1, q2) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and d1 != 0 and d2 != 0 and ((d3 > 0) != (d4 > 0)) and d3 != 0 and d4 != 0:
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def polygon_self_intersects(poly: Sequence[Sequence[float]]) -> bool:
    n = len(poly)
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a vertex
            if segments_intersect(*edges[i], *edges[j]):
                return True
    return False


def polygon_area(poly: Sequence[Sequence[float]]) -> float:
    n = len(poly)
    return abs(sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n))) / 2


def validate_seat_layout(seats: Sequence[SeatDef], known_channels: Iterable[int] | None = None) -> None:
    """Raise ``LayoutError`` listing every problem: ids, unique ids, known channels,
    polygons of >= 3 points inside 0..1, non-degenerate and not self-intersecting."""
    problems: list[str] = []
    channels = set(known_channels) if known_channels is not None else None
    seen: set[str] = set()
    for i, s in enumerate(seats):
        name = f"seat {s.seat_id!r}" if s.seat_id else f"seat #{i}"
        try:
            validate_id(s.seat_id, "seat id")
        except TopicError as exc:
            problems.append(f"{name}: {exc}")
        if s.seat_id in seen:
            problems.append(f"{name}: duplicate seat id")
        seen.add(s.seat_id)
        if channels is not None and s.channel not in channels:
            problems.append(f"{name}: unknown channel {s.channel} (edge has {sorted(channels)})")
        poly = s.polygon
        if len(poly) < 3:
            problems.append(f"{name}: polygon needs at least 3 points (got {len(poly)})")
            continue
        if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in poly):
            problems.append(f"{name}: polygon points must lie inside 0..1 (normalised coordinates)")
        if polygon_self_intersects(poly):
            problems.append(f"{name}: polygon edges cross each other")
        elif polygon_area(poly) < 1e-6:
            problems.append(f"{name}: polygon has no area")
    if problems:
        raise LayoutError(problems)


class ConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of PUT .../config."""

    seats: list[SeatDef]
    rules: StateRules = StateRules()


class ConfigStatus(msgspec.Struct):
    store_id: str
    edge_id: str
    desired_version: int | None  # newest version pushed from the hub
    applied_version: int  # what the edge reported in its last birth / ok ack
    acked_version: int | None  # the desired version, once the edge acknowledged it
    ack_error: str | None  # the edge's validation error for the desired version
    seats: list[SeatDef] = []
    rules: StateRules | None = None


async def config_status(session: AsyncSession, store_id: str, edge_id: str) -> ConfigStatus:
    edge = await session.get(Edge, (store_id, edge_id))
    row = (await session.execute(
        select(ConfigRow).where(ConfigRow.store_id == store_id, ConfigRow.edge_id == edge_id)
        .order_by(ConfigRow.version.desc()).limit(1)
    )).scalar_one_or_none()
    return ConfigStatus(
        store_id=store_id, edge_id=edge_id,
        desired_version=row.version if row else None,
        applied_version=edge.config_version if edge else 0,
        acked_version=row.acked_version if row else None,
        ack_error=row.ack_error if row else None,
        seats=msgspec.convert(row.seats, list[SeatDef]) if row else [],
        rules=msgspec.convert(row.rules, StateRules) if row else None,
    )


async def store_new_config(session: AsyncSession, store_id: str, edge_id: str, body: ConfigIn,
                           now: float | None = None) -> Config:
    """Validate and insert the next version (caller commits, then publishes the returned message)."""
    known = set((await session.execute(
        select(Channel.channel).where(Channel.store_id == store_id, Channel.edge_id == edge_id)
    )).scalars())
    if not known:  # no channel list reported yet: fall back to the channels its seats use
        known = set((await session.execute(
            select(Seat.channel).where(Seat.store_id == store_id, Seat.edge_id == edge_id)
        )).scalars())
    validate_seat_layout(body.seats, known or None)
    edge = await session.get(Edge, (store_id, edge_id))
    prev = (await session.execute(
        select(func.max(ConfigRow.version)).where(ConfigRow.store_id == store_id, ConfigRow.edge_id == edge_id)
    )).scalar_one_or_none() or 0
    version = max(prev, edge.config_version if edge else 0) + 1
    now = time.time() if now is None else now
    session.add(ConfigRow(
        store_id=store_id, edge_id=edge_id, version=version, seats=msgspec.to_builtins(body.seats),
        rules=msgspec.to_builtins(body.rules), created_at=now,
    ))
    return Config(store_id=store_id, edge_id=edge_id, ts=now, version=version, seats=body.seats, rules=body.rules)
