"""A week of generated seat history for `seat-hub demo`, so that its history page and HQ
comparison have something to show on the first run.

Every generated event is marked: ``boot_id`` = ``GENERATED_BOOT`` (a boot no edge ever has),
``historical`` true and ``evidence = {"generated": true}``; the history page says so when a range
holds any. Only the demo's own database gets them (``seat-hub demo`` without ``--config``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Seat, SeatEvent
from hub.stats.rollup_db import roll_events
from hub.stores.queries import GENERATED_BOOT

SEOUL = ZoneInfo("Asia/Seoul")
# Study cafes often open round the clock: students come mostly from late morning to late evening.
HOUR_WEIGHT = [0.1] * 7 + [0.4, 0.6, 0.8] + [1.0] * 13 + [0.5]


def generate_seat_day(rng: random.Random, day_open: float, day_close: float, busy: float) -> list[tuple[float, str, str]]:
    """One seat's transitions over one opening day (at, from, to), starting and ending empty.
    ``busy`` (0..1): how much of the day the seat is taken."""
    out: list[tuple[float, str, str]] = []
    t, state = day_open, "empty"

    def go(at: float, to: str) -> None:
        nonlocal state
        out.append((at, state, to))
        state = to

    while True:
        while True:  # wait for the next student, fewer at night (thinning by the hour's weight)
            t += rng.expovariate(1.0 / (3600 * (1.2 - busy)))
            if t >= day_close or rng.random() < HOUR_WEIGHT[datetime.fromtimestamp(t, SEOUL).hour]:
                break
        if t >= day_close - 1800:
            break
        go(t, "occupied")
        t += rng.uniform(40, 200) * 60
        if t >= day_close:
            break
        if rng.random() < 0.3:  # leaves belongings behind
            go(t, "away")
            gone = rng.uniform(3, 40) * 60
            if gone > 10 * 60:  # the store's 10-minute limit
                go(t + 10 * 60, "abandoned")
            t += gone
            if t >= day_close:
                break
            if rng.random() < 0.5:
                go(t, "occupied")
                t += rng.uniform(20, 90) * 60
                if t >= day_close:
                    break
        go(t, "empty")
    if state != "empty":
        go(day_close, "empty")
    return out


async def seed_history(db: AsyncSession, store_ids: list[str], until: float, days: int = 7) -> int:
    """Insert ``days`` of generated events before ``until`` for every seat the stores' edges
    reported; nothing when a store has generated history already. Returns the events added."""
    added = 0
    rows: list[dict] = []
    for n, store_id in enumerate(store_ids):
        done = await db.scalar(select(exists().where(SeatEvent.store_id == store_id,
                                                     SeatEvent.boot_id == GENERATED_BOOT)))
        if done:
            continue
        seats = (await db.execute(select(Seat.seat_id, Seat.edge_id).where(Seat.store_id == store_id)
                                  .order_by(Seat.seat_id))).all()
        seq = 0
        today = datetime.fromtimestamp(until, SEOUL).date()
        for seat_id, edge_id in seats:
            rng = random.Random(f"{store_id}/{seat_id}")
            busy = min(0.9, 0.35 + 0.25 * n + rng.uniform(-0.1, 0.1))
            for back in range(days, -1, -1):
                d = today - timedelta(days=back)
                day_open = datetime(d.year, d.month, d.day, tzinfo=SEOUL).timestamp()
                nd = d + timedelta(days=1)
                day_close = min(datetime(nd.year, nd.month, nd.day, tzinfo=SEOUL).timestamp(), until)
                if day_close <= day_open:
                    continue
                for at, frm, to in generate_seat_day(rng, day_open, day_close, busy):
                    seq += 1
                    db.add(SeatEvent(store_id=store_id, seat_id=seat_id, edge_id=edge_id, boot_id=GENERATED_BOOT,
                                     seq=seq, from_state=frm, to_state=to, at=at, evidence={"generated": True},
                                     historical=True, received_at=until))
                    rows.append({"store_id": store_id, "seat_id": seat_id, "at": at, "to_state": to})
                    added += 1
    if rows:  # what the ingest writer does with every stored event: the rollups the pages read
        await db.flush()
        await roll_events(db, rows)
    return added
