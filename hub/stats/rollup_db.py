"""Rollup storage: keeping ``seat_hours`` / ``store_hours`` right as events are stored, and reading
them (the pure part is :mod:`hub.stats.rollup`).

Late and replayed events: the affected span is recomputed from the raw events, not adjusted by a
delta. One event can change every hour after it up to the seat's next ``empty``/``unknown`` (a stay's
length and whether a later ``occupied`` is an entry depend on it), so a delta would have to know that
span anyway; recomputing from the carry of the hour before the earliest new event up to the store's
last hour is the same work, obviously exact, and the same code as the live path (which recomputes
the current hour of the seats that changed).

The live path appends instead: when a seat's new events all come at or after the last event of its
row for the store's current hour (``last_at``), that row is extended by them
(:func:`hub.stats.rollup.append_seat`) without reading the hour's events again. Recomputing the
current hour on every batch cost O(events in the hour) per batch, so a flood on one seat slowed every
store's batches (issue 20 item 5: p95 0.23 s before the rollups, 2.2 s with them).

Two hub replicas may store events of one store at once: the store's ``rollup_heads`` row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite has one writer) before reading, so the second waits and then
sees the first one's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import RollupHead, Seat, SeatEvent, SeatHourRow, StoreHourRow
from hub.stats.compute import STATES, SeatBucketStats
from hub.stats.rollup import HOUR, Carry, SeatHour, StoreHour, append_seat, hour_floor, patch_span, roll_seat

_SH = SeatHourRow.__table__
_STH = StoreHourRow.__table__
_HEAD = RollupHead.__table__
_EV = SeatEvent.__table__
_CHUNK = 500
_NUM = ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "entries", "stays", "stay_total_s",
        "abandoned_incidents")
_SEAT_COLS = (*_NUM, "events", "end_state", "visit_since", "last_at")


def _insert(session: AsyncSession, table):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def _chunks(rows: list, n: int = _CHUNK):
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


_STORE_SUMS = f"""
INSERT INTO store_hours (store_id, hour, seats, {", ".join(_NUM)}, {", ".join(f"end_{s}" for s in STATES)})
SELECT store_id, hour, count(*), {", ".join(f"sum({c})" for c in _NUM)},
       {", ".join(f"sum(CASE WHEN end_state = '{s}' THEN 1 ELSE 0 END)" for s in STATES)}
FROM seat_hours WHERE store_id = :store AND hour >= :lo AND hour <= :hi
GROUP BY store_id, hour
ON CONFLICT (store_id, hour) DO UPDATE SET seats = excluded.seats,
  {", ".join(f"{c} = excluded.{c}" for c in (*_NUM, *(f"end_{s}" for s in STATES)))}
"""


async def roll_events(session: AsyncSession, events: Iterable[Mapping[str, Any]]) -> int:
    """After ``events`` (rows just inserted into ``seat_events``, in this transaction) bring the
    rollups of their seats and stores up to date. Returns the number of seat hours written."""
    first_at: dict[str, dict[str, float]] = {}
    last_at: dict[tuple[str, str], float] = {}
    top: dict[str, float] = {}
    new_events: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for e in events:
        if e["to_state"] not in STATES:
            continue  # the statistics leave them out (hub.stats.timelines logs them)
        new_events.setdefault((e["store_id"], e["seat_id"]), []).append((e["at"], e["to_state"]))
        seats = first_at.setdefault(e["store_id"], {})
        seats[e["seat_id"]] = min(seats.get(e["seat_id"], e["at"]), e["at"])
        k = (e["store_id"], e["seat_id"])
        last_at[k] = max(last_at.get(k, e["at"]), e["at"])
        top[e["store_id"]] = max(top.get(e["store_id"], e["at"]), e["at"])
    if not first_at:
        return 0
    stores = sorted(first_at)
    heads = await _lock_heads(session, stores)
    new_through = {s: max(hour_floor(top[s]), heads[s] if heads[s] is not None else -1e18) for s in stores}
    # Where each touched seat's recomputation starts: after its last row before its earliest new
    # event. Rows are dense up to the store's last hour, so that row is usually the one at the hour
    # before (or at the store's last hour): a primary-key lookup. Only seats without one there
    # (new seats, seats that went inactive) need the search for their last row, which reads all
    # their older rows (it was 2.2 of 9 s of database time at 500 stores a batch, growing with history).
    plan: dict[tuple[str, str], tuple[float, Carry]] = {}
    guess: dict[tuple[str, str], float] = {}
    for s, seats in first_at.items():
        for seat, at in seats.items():
            if heads[s] is None:  # no rollup row in this store yet
                plan[(s, seat)] = (hour_floor(at), Carry())
            else:
                guess[(s, seat)] = min(hour_floor(at) - HOUR, heads[s])
    # The live path: the seat's row for the store's current hour, if its new events all follow it.
    appendable = [(s, seat, heads[s]) for s, seats in first_at.items() for seat, at in seats.items()
                  if heads[s] is not None and hour_floor(at) == heads[s]]
    appended: list[tuple[str, SeatHour]] = []
    has_head_row: set[tuple[str, str]] = set()
    for chunk in _chunks(appendable):
        q = select(_SH).where(tuple_(_SH.c.store_id, _SH.c.seat_id, _SH.c.hour).in_(chunk))
        for r in (await session.execute(q)).all():
            k = (r.store_id, r.seat_id)
            has_head_row.add(k)
            since = r.last_at if r.last_at is not None else (r.hour if r.events == 0 else None)
            if since is None or first_at[r.store_id][r.seat_id] < since:
                continue  # written before last_at existed, or a late event: recompute the hour
            row = SeatHour(seat_id=r.seat_id, start=r.hour, end=r.hour + HOUR,
                           **{c: getattr(r, c) for c in _SEAT_COLS})
            evs_k = sorted(new_events[k], key=lambda e: e[0])  # stable: ties in storage order
            appended.extend((r.store_id, x) for x in append_seat(row, evs_k, new_through[r.store_id]))
            del guess[k]
    # Late events in hours the store has materialised: patch the span they can change.
    new_keys = {(e.get("store_id"), e.get("edge_id"), e.get("boot_id"), e.get("seq"), e.get("at")) for e in events}
    # (a seat without a row in the current hour is new or was inactive: the general path below)
    for (s, seat) in sorted(guess):
        h = hour_floor(first_at[s][seat])
        if new_through[s] == heads[s] and (h < heads[s] or (h == heads[s] and (s, seat) in has_head_row)):
            rows = await _patch_late(session, s, seat, first_at[s][seat], last_at[(s, seat)], heads[s],
                                     len(new_events[(s, seat)]), new_keys)
            if rows is not None:
                appended.extend((s, x) for x in rows)
                del guess[(s, seat)]
    cols = (_SH.c.store_id, _SH.c.seat_id, _SH.c.hour, _SH.c.end_state, _SH.c.visit_since)
    keys = [(s, seat, h) for (s, seat), h in guess.items()]
    for chunk in _chunks(keys):
        q = select(*cols).where(tuple_(_SH.c.store_id, _SH.c.seat_id, _SH.c.hour).in_(chunk))
        for r in (await session.execute(q)).all():
            plan[(r.store_id, r.seat_id)] = (r.hour + HOUR, Carry(r.end_state, r.visit_since))
    wanted: dict[float, list[tuple[str, str]]] = {}
    for k, h in guess.items():
        if k not in plan:
            wanted.setdefault(h + HOUR, []).append(k)
    for h, ks in wanted.items():
        for chunk in _chunks(ks):
            m = (select(_SH.c.store_id, _SH.c.seat_id, func.max(_SH.c.hour).label("h"))
                 .where(tuple_(_SH.c.store_id, _SH.c.seat_id).in_(chunk), _SH.c.hour < h)
                 .group_by(_SH.c.store_id, _SH.c.seat_id).subquery())
            q = select(*cols).join(
                m, and_(_SH.c.store_id == m.c.store_id, _SH.c.seat_id == m.c.seat_id, _SH.c.hour == m.c.h))
            prev = {(r.store_id, r.seat_id): r for r in (await session.execute(q)).all()}
            for k in chunk:
                r = prev.get(k)
                first = hour_floor(first_at[k[0]][k[1]])
                plan[k] = (r.hour + HOUR, Carry(r.end_state, r.visit_since)) if r is not None else (first, Carry())
    # Where each span ends. A late event changes nothing after the seat's next empty/unknown that
    # follows it: from there on the carry is (that state, no visit) whatever came before, and the
    # events after it are the same. So a day replayed into a store that has moved on recomputes that
    # day (up to each seat's first reset after it), not every hour since (352 events/s instead of
    # thousands, bench_history). A store whose last hour moves on is computed up to its new one.
    last_hour: dict[tuple[str, str], float] = {}
    for (s, seat), (first, _) in plan.items():
        end = new_through[s]
        if heads[s] is not None and end == heads[s] and first < end:
            reset = (await session.execute(select(func.min(_EV.c.at)).where(
                _EV.c.store_id == s, _EV.c.seat_id == seat, _EV.c.at > last_at[(s, seat)],
                _EV.c.to_state.in_(("empty", "unknown"))))).scalar()
            if reset is not None:
                end = max(first, min(end, hour_floor(reset)))
        last_hour[(s, seat)] = end
    # the raw events of those spans, one query per distinct span
    by_span: dict[tuple[float, float], list[tuple[str, str]]] = {}
    for k, (first, _) in plan.items():
        by_span.setdefault((first, last_hour[k]), []).append(k)
    evs: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for (first, last), keys in by_span.items():
        for chunk in _chunks(keys):
            q = (select(_EV.c.store_id, _EV.c.seat_id, _EV.c.at, _EV.c.to_state)
                 .where(tuple_(_EV.c.store_id, _EV.c.seat_id).in_(chunk), _EV.c.at >= first,
                        _EV.c.at < last + HOUR)
                 .order_by(_EV.c.at, _EV.c.id))
            for r in (await session.execute(q)).all():
                evs.setdefault((r.store_id, r.seat_id), []).append((r.at, r.to_state))
    out: list[tuple[str, SeatHour]] = appended
    done = {(s, r.seat_id) for s, r in appended}  # already through the store's new last hour
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for s, r in appended:
        lo[s] = min(lo.get(s, r.start), r.start)
        hi[s] = max(hi.get(s, r.start), r.start)
    for (s, seat), (first, carry) in plan.items():
        last = last_hour[(s, seat)]
        out.extend((s, r) for r in roll_seat(seat, carry, evs.get((s, seat), []), first, last))
        lo[s] = min(lo.get(s, first), first)
        hi[s] = max(hi.get(s, last), last)
    # the store moved on to a later hour: its other (active) seats keep their state through it
    moved = [(s, heads[s]) for s in stores if heads[s] is not None and new_through[s] > heads[s]]
    for chunk in _chunks(moved):
        q = (select(_SH.c.store_id, _SH.c.seat_id, _SH.c.end_state, _SH.c.visit_since)
             .join(Seat.__table__, and_(Seat.store_id == _SH.c.store_id, Seat.seat_id == _SH.c.seat_id))
             .where(tuple_(_SH.c.store_id, _SH.c.hour).in_(chunk), Seat.active.is_(True)))
        for r in (await session.execute(q)).all():
            if (r.store_id, r.seat_id) not in plan and (r.store_id, r.seat_id) not in done:
                through = heads[r.store_id]
                out.extend((r.store_id, x) for x in roll_seat(
                    r.seat_id, Carry(r.end_state, r.visit_since), [], through + HOUR, new_through[r.store_id]))
    for s, through in moved:
        lo[s] = min(lo.get(s, through + HOUR), through + HOUR)
        hi[s] = new_through[s]
    await _write_seat_hours(session, out)
    await session.execute(update(_HEAD).where(_HEAD.c.store_id == bindparam("k")).values(through=bindparam("t")),
                          [{"k": s, "t": new_through[s]} for s in stores])
    await session.execute(text(_STORE_SUMS), [{"store": s, "lo": lo[s], "hi": hi[s]} for s in stores])
    return len(out)


_RESETS = ("empty", "unknown")


async def _patch_late(session: AsyncSession, store: str, seat: str, first: float, last: float, head: float,
                      n_new: int, new_keys: set) -> list[SeatHour] | None:
    """The seat's rows from its last ``empty``/``unknown`` before ``first`` (in that hour; else the hour
    start) to its first one after ``last`` (:func:`hub.stats.rollup.patch_span`), reading only the
    events in between. None: rows missing or written before ``last_at`` existed (recompute instead)."""
    h = hour_floor(first)
    ev = (_EV.c.id, _EV.c.at, _EV.c.to_state, _EV.c.edge_id, _EV.c.boot_id, _EV.c.seq)
    mine = (_EV.c.store_id == store, _EV.c.seat_id == seat)
    # at most n_new of the resets at or before ``first`` are the late events themselves
    q = (select(*ev).where(*mine, _EV.c.at >= h, _EV.c.at <= first, _EV.c.to_state.in_(_RESETS))
         .order_by(_EV.c.at.desc(), _EV.c.id.desc()).limit(n_new + 1))
    start = next((r for r in (await session.execute(q)).all()
                  if (store, r.edge_id, r.boot_id, r.seq, r.at) not in new_keys), None)
    q = (select(*ev).where(*mine, _EV.c.at > last, _EV.c.at < head + HOUR, _EV.c.to_state.in_(_RESETS))
         .order_by(_EV.c.at, _EV.c.id).limit(1))
    stop = (await session.execute(q)).first()  # after ``last``: none of them is new
    lo = h if start is None else hour_floor(start.at)
    hi = head if stop is None else hour_floor(stop.at)
    q = select(_SH).where(_SH.c.store_id == store, _SH.c.seat_id == seat,
                          _SH.c.hour >= lo - (HOUR if start is None else 0), _SH.c.hour <= hi).order_by(_SH.c.hour)
    found = {r.hour: r for r in (await session.execute(q)).all()}
    span = [found.get(lo + k * HOUR) for k in range(round((hi - lo) / HOUR) + 1)]
    if any(r is None or (r.events and r.last_at is None) for r in span):
        return None
    if start is None:
        before = found.get(lo - HOUR)
        if before is None:
            return None
        t0, carry = lo, Carry(before.end_state, before.visit_since)
    else:
        t0, carry = start.at, Carry(start.to_state)
    q = (select(*ev).where(*mine, _EV.c.at >= t0, _EV.c.at <= (stop.at if stop is not None else head + HOUR))
         .order_by(_EV.c.at, _EV.c.id))
    old: list[tuple[float, str]] = []
    both: list[tuple[float, str]] = []
    for r in (await session.execute(q)).all():
        if start is not None and (r.at, r.id) <= (start.at, start.id):
            continue
        if stop is not None and (r.at, r.id) > (stop.at, stop.id):
            break
        both.append((r.at, r.to_state))
        if (store, r.edge_id, r.boot_id, r.seq, r.at) not in new_keys:
            old.append((r.at, r.to_state))
    rows = [SeatHour(seat_id=seat, start=r.hour, end=r.hour + HOUR, **{c: getattr(r, c) for c in _SEAT_COLS})
            for r in span]
    return patch_span(rows, carry, t0, stop.at if stop is not None else None, old, both)


async def _lock_heads(session: AsyncSession, stores: list[str]) -> dict[str, float | None]:
    await session.execute(_insert(session, _HEAD).on_conflict_do_nothing(index_elements=["store_id"]),
                          [{"store_id": s, "through": None} for s in stores])
    heads: dict[str, float | None] = {}
    for chunk in _chunks(stores):  # sorted: two replicas lock in the same order (no deadlock)
        q = select(_HEAD.c.store_id, _HEAD.c.through).where(_HEAD.c.store_id.in_(chunk)) \
            .order_by(_HEAD.c.store_id).with_for_update()
        heads.update({r.store_id: r.through for r in (await session.execute(q)).all()})
    return heads


async def _write_seat_hours(session: AsyncSession, rows: list[tuple[str, SeatHour]]) -> None:
    if not rows:
        return
    stmt = _insert(session, _SH)
    stmt = stmt.on_conflict_do_update(index_elements=["store_id", "seat_id", "hour"],
                                      set_={c: stmt.excluded[c] for c in _SEAT_COLS})
    params = [{"store_id": s, "seat_id": r.seat_id, "hour": r.start, **{c: getattr(r, c) for c in _SEAT_COLS}}
              for s, r in rows]
    for chunk in _chunks(params, 5000):
        await session.execute(stmt, chunk)


async def rebuild_store(session: AsyncSession, store_id: str) -> int:
    """Recompute a store's rollups from all its raw events (after a migration, or to repair)."""
    await session.execute(_SH.delete().where(_SH.c.store_id == store_id))
    await session.execute(_STH.delete().where(_STH.c.store_id == store_id))
    await session.execute(_HEAD.delete().where(_HEAD.c.store_id == store_id))
    rows = (await session.execute(select(_EV.c.store_id, _EV.c.seat_id, _EV.c.at, _EV.c.to_state)
                                  .where(_EV.c.store_id == store_id))).mappings().all()
    return await roll_events(session, rows)


# --------------------------------------------------------------------------- reading


def _store_hour(r: Any) -> StoreHour:
    h = StoreHour(start=r.hour, end=r.hour + HOUR, seats=r.seats, entries=r.entries, stays=r.stays,
                  stay_total_s=r.stay_total_s, abandoned_incidents=r.abandoned_incidents,
                  end_counts={s: getattr(r, f"end_{s}") for s in STATES})
    for s in STATES:
        h.add(s, getattr(r, f"{s}_s"))
    return h


async def store_hours(db: AsyncSession, store_ids: list[str], start: float, end: float) -> dict[str, list[StoreHour]]:
    """Each store's hours of ``[start, end)`` (``start`` on an hour), one row per hour, the last cut at
    ``end``: two queries whatever the number of stores. Hours before a store's first event have no
    seat (``seats`` 0, nothing known)."""
    if not store_ids:
        return {}
    found: dict[str, dict[float, StoreHour]] = {s: {} for s in store_ids}
    for chunk in _chunks(store_ids):
        q = select(_STH).where(_STH.c.store_id.in_(chunk), _STH.c.hour >= start, _STH.c.hour < end)
        for r in (await db.execute(q)).all():
            found[r.store_id][r.hour] = _store_hour(r)
    # stores silent since before the window: their last hour's end states fill it
    silent = [s for s, rows in found.items() if start not in rows]
    before: dict[str, StoreHour] = {}
    for chunk in _chunks(silent):
        x = _STH.alias("x")
        last = (select(func.max(x.c.hour)).where(x.c.store_id == _STH.c.store_id, x.c.hour < start)
                .scalar_subquery())
        q = select(_STH).where(_STH.c.store_id.in_(chunk), _STH.c.hour == last)
        before.update({r.store_id: _store_hour(r) for r in (await db.execute(q)).all()})
    out: dict[str, list[StoreHour]] = {}
    for s in store_ids:
        rows, prev, series = found[s], before.get(s), []
        h = start
        while h < end:
            stop = min(h + HOUR, end)
            row = rows.get(h)
            if row is not None:
                prev = row
                series.append(row.clip(stop) if stop < row.end else row)
            elif prev is not None:
                series.append(prev.fill_from(h, stop))
            else:
                series.append(StoreHour(start=h, end=stop))
            h += HOUR
        out[s] = series
    return out


async def seat_totals(db: AsyncSession, store_id: str, start: float, end: float) -> dict[str, SeatBucketStats]:
    """Each seat's sums over ``[start, end)`` (``start`` on an hour) in one SQL aggregate, plus the
    cut of the last hour and the fill after the store's last materialised hour."""
    through = (await db.execute(select(_HEAD.c.through).where(_HEAD.c.store_id == store_id))).scalar()
    if through is None:
        return {}
    q = (select(_SH.c.seat_id, func.min(_SH.c.hour).label("first"), *(func.sum(_SH.c[c]).label(c) for c in _NUM))
         .where(_SH.c.store_id == store_id, _SH.c.hour >= start, _SH.c.hour < end).group_by(_SH.c.seat_id))
    out: dict[str, SeatBucketStats] = {}
    for r in (await db.execute(q)).all():
        b = SeatBucketStats(seat_id=r.seat_id, start=start, end=end)
        for c in _NUM:
            setattr(b, c, getattr(r, c))
        b.unknown_s += r.first - start  # the hours before the seat's first event: never seen
        out[r.seat_id] = b
    last = min(through, hour_floor(end))
    if start <= last < end < last + HOUR:  # the last hour counted is cut at end
        for r in (await db.execute(select(_SH.c.seat_id, _SH.c.end_state).where(
                _SH.c.store_id == store_id, _SH.c.hour == last))).all():
            out[r.seat_id].add(r.end_state, -(last + HOUR - end))
    elif through + HOUR < end:  # hours after the store's last event: the seats keep their states
        q = (select(_SH.c.seat_id, _SH.c.end_state)
             .join(Seat.__table__, and_(Seat.store_id == _SH.c.store_id, Seat.seat_id == _SH.c.seat_id))
             .where(_SH.c.store_id == store_id, _SH.c.hour == through, Seat.active.is_(True)))
        gap0 = max(through + HOUR, start)
        for r in (await db.execute(q)).all():
            b = out.setdefault(r.seat_id, SeatBucketStats(seat_id=r.seat_id, start=start, end=end))
            b.add(r.end_state, end - gap0)
    return out


async def seat_hour_rows(db: AsyncSession, store_id: str, start: float, end: float,
                         seat_ids: set[str] | None = None, active: set[str] | None = None
                         ) -> dict[str, list[SeatBucketStats]] | None:
    """Per seat, one row per hour of ``[start, end)`` (``start`` on an hour; the last hour cut at
    ``end``), as :func:`hub.stats.compute.compute_store_stats` would give it with each seat's whole
    history. Seats: ``active`` ones and those with an event in the window (as
    :func:`hub.stats.timelines.load_timelines`), or only ``seat_ids``. None: the window's last
    hour has events after ``end`` (the cut would not be exact; compute from the raw events)."""
    h_end = hour_floor(end)
    if h_end < end and (await db.execute(select(_EV.c.id).where(
            _EV.c.store_id == store_id, _EV.c.at >= end, _EV.c.at < h_end + HOUR).limit(1))).first():
        return None
    q = select(_SH).where(_SH.c.store_id == store_id, _SH.c.hour >= start, _SH.c.hour < end)
    if seat_ids is not None:
        q = q.where(_SH.c.seat_id.in_(sorted(seat_ids)))
    rows: dict[str, dict[float, Any]] = {}
    for r in (await db.execute(q.order_by(_SH.c.seat_id, _SH.c.hour))).all():
        rows.setdefault(r.seat_id, {})[r.hour] = r
    wanted = set(seat_ids) if seat_ids is not None else (
        set(active or ()) | {sid for sid, rs in rows.items() if any(r.events for r in rs.values())})
    # each wanted seat's last row before the window, for the hours before its first row in it
    before: dict[str, Any] = {}
    missing = sorted(sid for sid in wanted if start not in rows.get(sid, {}))
    for chunk in _chunks(missing):
        x = _SH.alias("x")
        last = (select(func.max(x.c.hour)).where(x.c.store_id == _SH.c.store_id, x.c.seat_id == _SH.c.seat_id,
                                                 x.c.hour < start).scalar_subquery())
        q = select(_SH).where(_SH.c.store_id == store_id, _SH.c.seat_id.in_(chunk), _SH.c.hour == last)
        before.update({r.seat_id: r for r in (await db.execute(q)).all()})
    out: dict[str, list[SeatBucketStats]] = {}
    for sid in sorted(wanted):
        mine, prev = rows.get(sid, {}), before.get(sid)
        series: list[SeatBucketStats] = []
        h = start
        while h < end:
            stop = min(h + HOUR, end)
            r = mine.get(h)
            if r is not None:
                prev = r
                b = SeatBucketStats(seat_id=sid, start=h, end=stop, **{c: getattr(r, c) for c in _NUM})
                if stop < h + HOUR:
                    b.add(r.end_state, -(h + HOUR - stop))
            else:  # no event in this hour: the state at the end of the last row (or never seen)
                b = SeatBucketStats(seat_id=sid, start=h, end=stop)
                b.add(prev.end_state if prev is not None else "unknown", stop - h)
            series.append(b)
            h += HOUR
        out[sid] = series
    return out
