"""Read side: what the API and the pages show, as typed Structs (no HTTP here)."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from sqlalchemy import and_, exists, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Channel, Edge, Seat, SeatEvent, SeatStateRow, Store
from hub.params import store_zone
from hub.settings import DEFAULT_TZ
from protocol import SEAT_STATES


class NotFound(LookupError):
    pass


class BadCursor(ValueError):
    pass


class StateCounts(msgspec.Struct):
    empty: int = 0
    occupied: int = 0
    away: int = 0
    abandoned: int = 0
    unknown: int = 0


class StoreSummary(msgspec.Struct):
    store_id: str
    name: str
    seats: int
    counts: StateCounts
    edges_online: int
    edges_offline: int


class ChannelOut(msgspec.Struct):
    channel: int
    name: str
    online: bool
    fps: float
    last_frame_age_s: float | None
    reconnects: int
    last_error: str | None
    updated_at: float
    # how far the picture moved from the edge's desk references (fraction of the frame width,
    # None: not measured) and whether beyond its tolerance: redraw the seats or re-take (issue 17)
    drift: float | None = None
    camera_moved: bool = False


class EdgeOut(msgspec.Struct):
    edge_id: str
    online: bool
    last_seen: float
    offline_since: float | None
    # No boot_id / last_seq here: they are the edge's dedupe identity, not for other eyes.
    config_version: int
    outbox_depth: int
    outbox_dropped: int
    channels: list[ChannelOut]


class StoreDetail(msgspec.Struct):
    store_id: str
    name: str
    seats: int
    counts: StateCounts
    edges: list[EdgeOut]
    # the zone the store's pages, statistics and exports use: its own, else the hub's
    timezone: str = DEFAULT_TZ


class SeatOut(msgspec.Struct):
    seat_id: str
    label: str
    channel: int
    type: str
    edge_id: str
    state: str
    since: float | None
    state_for_s: float | None  # how long in the current state
    vacant_for_s: float | None  # only for empty seats: the vacancy duration
    polygon: list[list[float]]
    desk: list[list[float]] | None = None  # the desk zone where belongings are judged; None: edge default
    # True: the store box restarted since this state began; ``since`` is the restart and the time
    # before it is unknown (so state_for_s is a lower bound)
    resumed: bool = False


class EventOut(msgspec.Struct):
    id: int
    seat_id: str
    edge_id: str
    from_state: str
    to_state: str
    at: float
    historical: bool
    evidence: dict[str, Any]


class EventPage(msgspec.Struct):
    events: list[EventOut]
    next: str | None  # opaque cursor for the next (older) page; null at the end


async def get_store(session: AsyncSession, store_id: str) -> Store:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound(f"store {store_id!r} not found")
    return store


async def _counts(session: AsyncSession) -> dict[str, tuple[int, StateCounts]]:
    # Active seats without a state row are unknown: no observation is not "empty".
    state = func.coalesce(SeatStateRow.state, literal_column("'unknown'"))  # literal: same expr in GROUP BY
    q = (
        select(Seat.store_id, state, func.count())
        .select_from(Seat)
        .outerjoin(SeatStateRow, and_(SeatStateRow.store_id == Seat.store_id, SeatStateRow.seat_id == Seat.seat_id))
        .where(Seat.active.is_(True))
        .group_by(Seat.store_id, state)
    )
    out: dict[str, tuple[int, StateCounts]] = {}
    for store_id, state, n in (await session.execute(q)).all():
        total, counts = out.get(store_id, (0, StateCounts()))
        if state in SEAT_STATES:
            setattr(counts, state, getattr(counts, state) + n)
        out[store_id] = (total + n, counts)
    return out


async def list_stores(session: AsyncSession) -> list[StoreSummary]:
    counts = await _counts(session)
    edges: dict[str, list[int]] = {}
    for store_id, online, n in (await session.execute(
        select(Edge.store_id, Edge.online, func.count()).group_by(Edge.store_id, Edge.online)
    )).all():
        edges.setdefault(store_id, [0, 0])[0 if online else 1] += n
    stores = (await session.execute(select(Store).order_by(Store.id))).scalars().all()
    return [
        StoreSummary(
            store_id=s.id, name=s.name, seats=counts.get(s.id, (0, StateCounts()))[0],
            counts=counts.get(s.id, (0, StateCounts()))[1],
            edges_online=edges.get(s.id, [0, 0])[0], edges_offline=edges.get(s.id, [0, 0])[1],
        )
        for s in stores
    ]


async def zone_of(session: AsyncSession, store_id: str, hub_tz: str = DEFAULT_TZ):
    """The store's time zone (``ZoneInfo``): its own, else the hub's (hub.params.store_zone).
    A store the hub does not know (yet) gets the hub's: callers check existence themselves."""
    tz = (await session.execute(select(Store.timezone).where(Store.id == store_id))).scalar_one_or_none()
    return store_zone(tz, hub_tz)


async def store_detail(session: AsyncSession, store_id: str, hub_tz: str = DEFAULT_TZ) -> StoreDetail:
    store = await get_store(session, store_id)
    counts = (await _counts(session)).get(store_id, (0, StateCounts()))
    edges = (await session.execute(select(Edge).where(Edge.store_id == store_id).order_by(Edge.edge_id))).scalars()
    chans = (await session.execute(
        select(Channel).where(Channel.store_id == store_id).order_by(Channel.channel)
    )).scalars().all()
    return StoreDetail(
        store_id=store.id, name=store.name, seats=counts[0], counts=counts[1],
        timezone=store_zone(store.timezone, hub_tz).key,
        edges=[
            EdgeOut(
                edge_id=e.edge_id, online=e.online, last_seen=e.last_seen, offline_since=e.offline_since,
                config_version=e.config_version,
                outbox_depth=e.outbox_depth, outbox_dropped=e.outbox_dropped,
                channels=[
                    ChannelOut(c.channel, c.name, c.online, c.fps, c.last_frame_age_s, c.reconnects, c.last_error,
                               c.updated_at, c.drift, c.camera_moved)
                    for c in chans if c.edge_id == e.edge_id
                ],
            )
            for e in edges
        ],
    )


async def list_seats(session: AsyncSession, store_id: str, now: float | None = None) -> list[SeatOut]:
    await get_store(session, store_id)
    now = time.time() if now is None else now
    rows = (await session.execute(
        select(Seat, SeatStateRow)
        .outerjoin(SeatStateRow, and_(SeatStateRow.store_id == Seat.store_id, SeatStateRow.seat_id == Seat.seat_id))
        .where(Seat.store_id == store_id, Seat.active.is_(True))
        .order_by(Seat.channel, Seat.seat_id)
    )).all()
    out = []
    for seat, st in rows:
        state = st.state if st is not None else "unknown"
        since = st.since if st is not None else None
        dur = max(0.0, now - since) if since is not None else None
        out.append(SeatOut(
            seat_id=seat.seat_id, label=seat.label or seat.seat_id, channel=seat.channel, type=seat.type,
            edge_id=seat.edge_id, state=state, since=since, state_for_s=dur,
            vacant_for_s=dur if state == "empty" else None, polygon=[list(p) for p in seat.polygon],
            desk=None if seat.desk is None else [list(p) for p in seat.desk],
            resumed=bool(st is not None and st.resumed),
        ))
    return out


# -- events with cursor pagination ---------------------------------------------------------
def encode_cursor(at: float, id_: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([at, id_])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        at, id_ = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(at), int(id_)
    except Exception:
        raise BadCursor(f"invalid cursor {cursor!r}: pass back the 'next' value of the previous page") from None


def _event_query(store_id: str, seat: str | None, to_state: str | None, t_from: float | None, t_to: float | None):
    q = select(SeatEvent).where(SeatEvent.store_id == store_id)
    if seat:
        q = q.where(SeatEvent.seat_id == seat)
    if to_state:
        q = q.where(SeatEvent.to_state == to_state)
    if t_from is not None:
        q = q.where(SeatEvent.at >= t_from)
    if t_to is not None:
        q = q.where(SeatEvent.at < t_to)
    return q


def _event_out(e: SeatEvent) -> EventOut:
    return EventOut(e.id, e.seat_id, e.edge_id, e.from_state, e.to_state, e.at, e.historical, e.evidence or {})


async def list_events(
    session: AsyncSession, store_id: str, *, seat: str | None = None, to_state: str | None = None,
    t_from: float | None = None, t_to: float | None = None, cursor: str | None = None, limit: int = 100,
) -> EventPage:
    """Newest first, keyset-paginated on (at, id) so pages stay stable while events arrive."""
    await get_store(session, store_id)
    q = _event_query(store_id, seat, to_state, t_from, t_to)
    if cursor:
        at, id_ = decode_cursor(cursor)
        q = q.where(or_(SeatEvent.at < at, and_(SeatEvent.at == at, SeatEvent.id < id_)))
    rows = (await session.execute(q.order_by(SeatEvent.at.desc(), SeatEvent.id.desc()).limit(limit + 1))).scalars().all()
    nxt = encode_cursor(rows[limit - 1].at, rows[limit - 1].id) if len(rows) > limit else None
    return EventPage(events=[_event_out(e) for e in rows[:limit]], next=nxt)


async def iter_events(
    session: AsyncSession, store_id: str, *, seat: str | None = None, to_state: str | None = None,
    t_from: float | None = None, t_to: float | None = None, chunk: int = 1000,
) -> AsyncIterator[EventOut]:
    """All matching events oldest first, read in keyset chunks (CSV export of any size)."""
    await get_store(session, store_id)
    last: tuple[float, int] | None = None
    while True:
        q = _event_query(store_id, seat, to_state, t_from, t_to)
        if last is not None:
            q = q.where(or_(SeatEvent.at > last[0], and_(SeatEvent.at == last[0], SeatEvent.id > last[1])))
        rows = (await session.execute(q.order_by(SeatEvent.at, SeatEvent.id).limit(chunk))).scalars().all()
        for e in rows:
            yield _event_out(e)
        if len(rows) < chunk:
            return
        last = (rows[-1].at, rows[-1].id)


# Events that `seat-hub demo` generated (hub/demo_history.py) carry this boot id, one no edge ever has.
GENERATED_BOOT = "generated-demo-history"


async def has_generated(db: AsyncSession, store_id: str, start: float, end: float) -> bool:
    """Whether the range holds generated demo events (the history page says so)."""
    return bool(await db.scalar(select(exists().where(
        SeatEvent.store_id == store_id, SeatEvent.boot_id == GENERATED_BOOT,
        SeatEvent.at >= start, SeatEvent.at < end))))
