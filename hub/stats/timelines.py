"""Database -> seat timelines: what the pure statistics (:mod:`hub.stats.compute`) need for one
store and window, read from the seat events and current states."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Seat, SeatEvent, SeatStateRow
from hub.stats.compute import STATES, SeatTimeline

log = logging.getLogger("hub.stats.api")


@dataclass
class LoadedTimelines:
    timelines: dict[str, SeatTimeline]
    skipped: int


async def load_timelines(db: AsyncSession, store_id: str, start: float, end: float) -> LoadedTimelines:
    """Each seat's state at ``start`` (its last event before, else its current state if that
    began earlier) and its events inside the window, in capture-time order."""
    seat_ids = set(
        (await db.scalars(select(Seat.seat_id).where(Seat.store_id == store_id, Seat.active.is_(True)))).all()
    )
    ranked = (
        select(
            SeatEvent.seat_id,
            SeatEvent.to_state,
            SeatEvent.at,
            func.row_number()
            .over(partition_by=SeatEvent.seat_id, order_by=(SeatEvent.at.desc(), SeatEvent.id.desc()))
            .label("rn"),
        )
        .where(SeatEvent.store_id == store_id, SeatEvent.at < start)
        .subquery()
    )
    before = (
        await db.execute(select(ranked.c.seat_id, ranked.c.to_state, ranked.c.at).where(ranked.c.rn == 1))
    ).all()
    inside = (
        await db.execute(
            select(SeatEvent.seat_id, SeatEvent.to_state, SeatEvent.at)
            .where(SeatEvent.store_id == store_id, SeatEvent.at >= start, SeatEvent.at < end)
            .order_by(SeatEvent.at, SeatEvent.id)
        )
    ).all()
    current = (
        await db.execute(
            select(SeatStateRow.seat_id, SeatStateRow.state, SeatStateRow.since).where(
                SeatStateRow.store_id == store_id
            )
        )
    ).all()
    skipped = 0
    initial: dict[str, tuple[str, float]] = {}
    for seat_id, state, since in current:  # a state known from a snapshot, no event before start
        if since <= start and state in STATES:
            initial[seat_id] = (state, since)
    for seat_id, state, at in before:
        if state in STATES:
            initial[seat_id] = (state, at)
        else:
            skipped += 1
    transitions: dict[str, list[tuple[float, str]]] = {}
    for seat_id, state, at in inside:
        if state not in STATES:
            skipped += 1
            continue
        transitions.setdefault(seat_id, []).append((at, state))
    if skipped:
        log.warning(
            "store %s: %d seat events with unknown state names left out of the statistics", store_id, skipped
        )
    seat_ids |= set(transitions)
    timelines = {}
    for sid in seat_ids:
        init = initial.get(sid)
        timelines[sid] = SeatTimeline(
            initial=init[0] if init else None,
            initial_since=init[1] if init else None,
            transitions=transitions.get(sid, []),
        )
    return LoadedTimelines(timelines, skipped)
