"""Hourly rollups of seat statistics (pure: no I/O, no clock).

A rollup row is one seat's numbers for one hour, exactly what :func:`hub.stats.compute.seat_bucket_stats`
gives for that hour when it is handed the seat's whole history (every transition before the hour
included), plus the seat's ``Carry`` at the hour's end: its state and when its open visit began.
The carry is all the past that matters to the next hour (a stay's length goes back to its entry,
an entry needs no visit open), so a span of hours is recomputed from the carry of the hour before
it and the raw events inside it, without reading older events (which retention may have deleted).

Hours are UTC hours (multiples of 3600 s). They are the local hour buckets of every time zone with a
whole-hour offset (KST, and DST zones whose shifts are whole hours); readers in other zones
compute from the raw events instead.

The last materialised hour of a store (its ``through``) is computed as if the state at the last event
lasted to the hour's end; a reader asking for less of that hour subtracts the rest
(:func:`clip_tail`), which is exact while no event is stored after the window's end in that hour.
Hours after ``through`` have no event at all: they are the carry for 3600 s (:func:`fill`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from hub.stats.compute import (
    STATES,
    DayStats,
    Durations,
    PeakHour,
    SeatBucketStats,
    SeatTimeline,
    StoreBucketStats,
    StoreStats,
    bucket_bounds,
    seat_bucket_stats,
    visit_step,
)

HOUR = 3600.0
Event = tuple[float, str]  # (capture time, to_state), in (at, id) order


def hour_floor(t: float) -> float:
    return math.floor(t / HOUR) * HOUR


def hour_aligned_zone(zone: ZoneInfo, start: float, end: float) -> bool:
    """Whether the zone's local hours are UTC hours over the window (whole-hour offsets at both ends
    and at every day start in between is enough for the zones in use: offsets change twice a year)."""
    t = start
    while True:
        off = datetime.fromtimestamp(t, zone).utcoffset()
        if off is None or off.total_seconds() % HOUR:
            return False
        if t >= end:
            return True
        t = min(t + 86400.0, end)


@dataclass(frozen=True)
class Carry:
    """A seat's situation at an hour boundary: what the next hour needs of the past."""

    state: str = "unknown"  # never observed is unknown
    visit: float | None = None  # when the visit that is still open began (None: no open visit)

    def prefix(self, before: float) -> list[Event]:
        """Transitions before ``before`` that put a seat in this situation, for
        :func:`hub.stats.compute.seat_segments` (which replays transitions before a window only
        to find where it starts)."""
        if self.visit is not None:  # an entry, then the state now (a repeat of occupied is ignored)
            return [(self.visit, "occupied"), (self.visit, self.state)]
        if self.state == "unknown":
            return []
        return [(before - 1.0, self.state)]  # away/abandoned with no entry seen: no visit opens


def advance(carry: Carry, events: Iterable[Event]) -> Carry:
    """The carry after ``events`` (:func:`hub.stats.compute.visit_step`, the visit rules)."""
    state, visit = carry.state, carry.visit
    for at, to in events:
        state, visit, _, _, _ = visit_step(state, visit, at, to)
    return Carry(state, visit)


@dataclass
class SeatHour(SeatBucketStats):
    """One rollup row: the hour's statistics, how many events fell in it, and the carry at its end."""

    events: int = 0
    end_state: str = "unknown"
    visit_since: float | None = None
    last_at: float | None = None  # the capture time of its last event (None: no event in the hour)

    @property
    def carry(self) -> Carry:
        return Carry(self.end_state, self.visit_since)


def roll_seat(seat_id: str, carry: Carry, events: Sequence[Event], first_hour: float, last_hour: float) -> list[SeatHour]:
    """Rows for the hours ``first_hour .. last_hour`` (inclusive) of one seat, from the carry at
    ``first_hour`` and the seat's events in those hours (sorted by capture time, ties in storage
    order; events outside the span and with unknown state names are left out)."""
    end = last_hour + HOUR
    inside = [(at, to) for at, to in events if first_hour <= at < end and to in STATES]
    n = round((end - first_hour) / HOUR)
    edges = [first_hour + k * HOUR for k in range(n + 1)]
    timeline = SeatTimeline(transitions=carry.prefix(first_hour) + inside)
    rows = seat_bucket_stats(seat_id, timeline, edges)
    out: list[SeatHour] = []
    j = 0
    c = carry
    for r in rows:
        k = j
        while k < len(inside) and inside[k][0] < r.end:
            k += 1
        c = advance(c, inside[j:k])
        out.append(SeatHour(**vars(r), events=k - j, end_state=c.state, visit_since=c.visit,
                            last_at=inside[k - 1][0] if k > j else None))
        j = k
    return out


def walk(seat_id: str, carry: Carry, t0: float, t1: float, events: Sequence[Event], last_hour: float) -> list[SeatHour]:
    """Partial rows for the hours ``hour_floor(t0) .. last_hour``: what the seat did from ``t0`` (in
    situation ``carry``) to ``t1``, given ``events`` (sorted; at ``t0`` or later, none after ``t1``):
    each hour's durations within ``[t0, t1)``, its entries/stays/incidents and events, its
    ``last_at``, and the carry at its end (for the hours that end by ``t1``; the last row's is the
    carry after the last event). The visit rules are :func:`hub.stats.compute.visit_step`, as in
    :func:`roll_seat`; the property tests hold the two equal."""
    h0 = hour_floor(t0)
    rows = [SeatHour(seat_id=seat_id, start=h, end=h + HOUR)
            for h in (h0 + k * HOUR for k in range(round((last_hour - h0) / HOUR) + 1))]
    state, visit, t, i = carry.state, carry.visit, t0, 0

    def hold(until: float) -> None:  # ``state`` from t to ``until``, split at hour edges
        nonlocal t, i
        while t < until:
            r = rows[i]
            stop = min(until, r.end)
            r.add(state, stop - t)
            t = stop
            if t < r.end:
                break
            r.end_state, r.visit_since = state, visit
            if i + 1 == len(rows):
                break
            i += 1

    for at, to in events:
        if to not in STATES:
            continue
        if at < t0 or at > t1:
            raise ValueError(f"seat {seat_id}: event at {at} outside [{t0}, {t1}]")
        hold(at)
        r = rows[i]
        r.events += 1
        r.last_at = at
        state, visit, stay, entry, incident = visit_step(state, visit, at, to)
        if stay is not None:
            r.stays += 1
            r.stay_total_s += stay
        r.entries += entry
        r.abandoned_incidents += incident
    hold(t1)
    rows[i].end_state, rows[i].visit_since = state, visit
    return rows


def _fold(row: SeatHour, minus: SeatHour | None, plus: SeatHour, carry_from_plus: bool) -> SeatHour:
    out = SeatHour(**vars(row))
    for f in ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "entries", "stays", "stay_total_s",
              "abandoned_incidents", "events"):
        setattr(out, f, getattr(out, f) + getattr(plus, f) - (getattr(minus, f) if minus is not None else 0))
    if plus.last_at is not None and (out.last_at is None or plus.last_at > out.last_at):
        out.last_at = plus.last_at
    if carry_from_plus:
        out.end_state, out.visit_since = plus.end_state, plus.visit_since
    return out


def append_seat(row: SeatHour, events: Sequence[Event], last_hour: float) -> list[SeatHour]:
    """What :func:`roll_seat` gives for the hours ``row.start .. last_hour`` when the events of
    ``row``'s hour so far are followed by ``events`` (sorted, none before ``row.last_at``; ties come
    after, as they are stored later), computed from ``row`` alone: its last state held from its last
    event to the hour's end comes off, and what the new events make of that time is added.

    The live path: a seat's new events almost always follow its last one, and recomputing its hour
    from all the hour's events (as a late event needs) costs O(events so far) per batch, O(n^2) under
    a flood (issue 20 item 5). This costs O(new events)."""
    since = row.last_at if row.last_at is not None else row.start
    if events and events[0][0] < since:
        raise ValueError(f"seat {row.seat_id}: event at {events[0][0]} before the hour's last at {since}")
    tail = SeatHour(seat_id=row.seat_id, start=row.start, end=row.end)
    tail.add(row.end_state, row.end - since)  # the held tail; the walk says how it really went
    w = walk(row.seat_id, row.carry, since, last_hour + HOUR, events, last_hour)
    return [_fold(row, tail, w[0], True), *w[1:]]


def patch_span(rows: Sequence[SeatHour], carry: Carry, t0: float, t1: float | None, old: Sequence[Event],
               both: Sequence[Event]) -> list[SeatHour]:
    """Late events, from a span of the stored rows: ``rows`` are the seat's rows for the hours
    ``hour_floor(t0) .. `` the last one, ``carry`` its situation at ``t0``, ``old`` the stored events
    after that point up to ``t1`` and ``both`` the same with the late ones merged in (storage order).

    ``t0`` is the seat's last ``empty``/``unknown`` before the earliest late event (or an hour start)
    and ``t1`` its first stored ``empty``/``unknown`` after the latest (None: none up to the last row's
    end), whose event is in ``old``. From either the carry is that state with no open visit, whatever
    came before, so the late events change only ``[t0, t1]``: each row gets what ``both`` makes of it
    minus what ``old`` made. This costs O(events in the span), not O(events in the hour): a store
    that keeps resending dropped events (or a flood's stragglers) no longer costs every batch a whole
    hour's recompute (issue 20 item 5)."""
    last_hour = rows[-1].start
    end = t1 if t1 is not None else last_hour + HOUR
    seat = rows[0].seat_id
    was = walk(seat, carry, t0, end, old, last_hour)
    now = walk(seat, carry, t0, end, both, last_hour)
    return [_fold(r, a, b, r.end <= end) for r, a, b in zip(rows, was, now, strict=True)]


def fill(seat_id: str, carry: Carry, start: float, end: float) -> SeatBucketStats:
    """``[start, end)`` with no event: the carried state all along."""
    row = SeatBucketStats(seat_id=seat_id, start=start, end=end)
    row.add(carry.state, end - start)
    return row


def clip_tail(row: SeatBucketStats, end: float) -> SeatBucketStats:
    """A materialised hour cut at ``end``: its state at the hour end (``end_state``) held from ``end``
    on when no event follows ``end`` in that hour, so that much of it comes off."""
    assert isinstance(row, SeatHour)
    out = SeatBucketStats(**{k: v for k, v in vars(row).items() if k not in ("events", "end_state", "visit_since")})
    out.add(row.end_state, -(row.end - end))
    out.end = end
    return out


# --------------------------------------------------------------------------- reading


def store_stats_from_hours(
    seat_rows: Mapping[str, Sequence[SeatBucketStats]],
    start: float,
    end: float,
    bucket: str,
    zone: ZoneInfo,
    peak_count: int = 3,
) -> StoreStats:
    """What :func:`hub.stats.compute.compute_store_stats` answers, from each seat's rows for the
    hour buckets of ``[start, end)`` (one per bucket of ``bucket_bounds(start, end, "hour")``, in
    order). Day buckets and days are sums of their hours; stays and entries are counted in the
    hour they happen in, so in its day too."""
    hour_edges = bucket_bounds(start, end, "hour", zone)
    edges = hour_edges if bucket == "hour" else bucket_bounds(start, end, bucket, zone)
    result = StoreStats(start=start, end=end, bucket=bucket, tz=str(zone.key))
    result.buckets = [StoreBucketStats(start=a, end=b) for a, b in pairwise(edges)]
    day_edges = edges if bucket == "day" else bucket_bounds(start, end, "day", zone)
    days = [StoreBucketStats(start=a, end=b) for a, b in pairwise(day_edges)]
    hour_of = [datetime.fromtimestamp(t, zone).hour for t in hour_edges[:-1]]
    # hour index -> bucket index and day index (both are unions of whole hours in these zones)
    b_of = _index(hour_edges, edges)
    d_of = _index(hour_edges, day_edges)
    by_hour: dict[int, Durations] = {}
    for seat_id in sorted(seat_rows):
        rows = seat_rows[seat_id]
        if len(rows) != len(hour_edges) - 1:
            raise ValueError(f"seat {seat_id}: {len(rows)} rows for {len(hour_edges) - 1} hours")
        if bucket == "hour":
            result.seats.extend(rows)
            own = rows
        else:
            own = [SeatBucketStats(seat_id=seat_id, start=a, end=b) for a, b in pairwise(edges)]
            _sum_into(own, rows, b_of)
            result.seats.extend(own)
        _count_seat(result.buckets, own)
        for i, r in enumerate(rows):
            by_hour.setdefault(hour_of[i], Durations()).merge(r)
        seat_days = [SeatBucketStats(seat_id=seat_id, start=a, end=b) for a, b in pairwise(day_edges)]
        _sum_into(seat_days, rows, d_of)
        _count_seat(days, seat_days)
    n = len(seat_rows)
    result.days = [
        DayStats(day=datetime.fromtimestamp(d.start, zone).date(), seats=n, stays=d.stays,
                 turnover=d.stays / n if n else 0.0, abandoned_incidents=d.abandoned_incidents,
                 occupancy_rate=d.occupancy_rate)
        for d in days
    ]
    peaks = [PeakHour(h, rate) for h, dur in by_hour.items() if (rate := dur.occupancy_rate) is not None]
    peaks.sort(key=lambda p: (-p.occupancy_rate, p.hour))
    result.peak_hours = peaks[:peak_count]
    return result


def _index(fine: list[float], coarse: list[float]) -> list[int]:
    out, j = [], 0
    for t in fine[:-1]:
        while j + 1 < len(coarse) - 1 and t >= coarse[j + 1]:
            j += 1
        out.append(j)
    return out


def _sum_into(target: list[SeatBucketStats], rows: Sequence[SeatBucketStats], where: list[int]) -> None:
    for i, r in enumerate(rows):
        t = target[where[i]]
        t.merge(r)
        t.entries += r.entries
        t.stays += r.stays
        t.stay_total_s += r.stay_total_s
        t.abandoned_incidents += r.abandoned_incidents


def _count_seat(store_rows: list[StoreBucketStats], seat_rows: Iterable[SeatBucketStats]) -> None:
    for s, r in zip(store_rows, seat_rows):
        s.merge(r)
        s.seats += 1
        s.entries += r.entries
        s.stays += r.stays
        s.stay_total_s += r.stay_total_s
        s.abandoned_incidents += r.abandoned_incidents


@dataclass
class StoreHour(Durations):
    """One store hour (sums over its seats), with how many seats ended it in each state: the carry
    of a store, for filling and cutting hours without reading its seats."""

    start: float = 0.0
    end: float = 0.0
    seats: int = 0
    entries: int = 0
    stays: int = 0
    stay_total_s: float = 0.0
    abandoned_incidents: int = 0
    end_counts: dict[str, int] = field(default_factory=dict)

    def fill_from(self, start: float, end: float) -> StoreHour:
        """An hour after this one with no event at all: every seat keeps its end state."""
        out = StoreHour(start=start, end=end, seats=self.seats, end_counts=dict(self.end_counts))
        for s, n in self.end_counts.items():
            out.add(s, n * (end - start))
        return out

    def clip(self, end: float) -> StoreHour:
        """This (last materialised) hour cut at ``end`` (see :func:`clip_tail`)."""
        out = StoreHour(**{k: v for k, v in vars(self).items() if k != "end_counts"},
                        end_counts=dict(self.end_counts))
        for s, n in self.end_counts.items():
            out.add(s, -n * (self.end - end))
        out.end = end
        return out


def store_stats_from_store_hours(
    series: Sequence[StoreHour],
    seat_totals: Iterable[SeatBucketStats],
    start: float,
    end: float,
    zone: ZoneInfo,
    n_seats: int,
    peak_count: int = 3,
) -> StoreStats:
    """The store's hourly series (``series``, one per hour of ``[start, end)``) and each seat's
    totals over the window, as a :class:`StoreStats` with hour buckets: what the history page
    draws, without the per-seat hourly rows (``seats`` holds one row per seat for the window)."""
    result = StoreStats(start=start, end=end, bucket="hour", tz=str(zone.key))
    by_hour: dict[int, Durations] = {}
    days: dict[object, StoreBucketStats] = {}
    for h in series:
        b = StoreBucketStats(start=h.start, end=h.end, seats=h.seats, entries=h.entries, stays=h.stays,
                             stay_total_s=h.stay_total_s, abandoned_incidents=h.abandoned_incidents)
        b.merge(h)
        result.buckets.append(b)
        local = datetime.fromtimestamp(h.start, zone)
        by_hour.setdefault(local.hour, Durations()).merge(h)
        d = days.setdefault(local.date(), StoreBucketStats(start=h.start, end=h.end))
        d.merge(h)
        d.end = h.end
        d.stays += h.stays
        d.abandoned_incidents += h.abandoned_incidents
    result.days = [
        DayStats(day=day, seats=n_seats, stays=d.stays, turnover=d.stays / n_seats if n_seats else 0.0,
                 abandoned_incidents=d.abandoned_incidents, occupancy_rate=d.occupancy_rate)
        for day, d in days.items()
    ]
    result.seats = sorted(seat_totals, key=lambda r: r.seat_id)
    peaks = [PeakHour(h, rate) for h, dur in by_hour.items() if (rate := dur.occupancy_rate) is not None]
    peaks.sort(key=lambda p: (-p.occupancy_rate, p.hour))
    result.peak_hours = peaks[:peak_count]
    return result
