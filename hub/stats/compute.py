"""Time-weighted seat statistics from state transitions. Pure: no I/O, no clock.

Model
-----
A seat's timeline inside a window ``[start, end)`` is a step function: the state at the window
start (``None`` = never observed = ``unknown``) followed by its transitions ``(at, to_state)``
(UNIX seconds, capture time). A state holds until the next transition, so an hour with no
events inherits the current state; an edge that is offline shows up as ``unknown`` (the ingest
writes that transition), which is never counted as vacant.

Decisions (documented because the numbers depend on them)
- Buckets follow the store's local wall clock (``zoneinfo``, default ``Asia/Seoul``). KST has
  no DST, so every local day there has 24 one-hour buckets of 3600 s. For zones with DST, an
  hour bucket is 3600 s of real time starting on a local hour boundary (a DST day has 23 or 25
  of them) and a day bucket runs from local midnight to the next local midnight.
- Buckets are clipped to the window, so the five durations of a bucket sum to its clipped length.
- stay (a visit): from a person taking a seat (``occupied`` while no visit is open) until the
  seat is ``empty`` again. Breaks (``away``) and even ``abandoned`` belong to the visit when the
  person comes back, so a trip to the restroom does not count as a second customer. A visit
  also ends at ``unknown`` (we count the observed part). It is counted once, in the bucket
  where it ends, with its full length (from the entry, or the window start / ``initial_since``
  for a visit already in progress). A visit still open at the window end is not a completed
  stay.
- entry: the start of a visit (``occupied`` while no visit is open), counted in the bucket
  where it happens; a return from ``away`` is not an entry.
- abandoned incident: a transition into ``abandoned`` from any other state.
- occupancy rate = (occupied + away) / (seat-time minus unknown); ``None`` when nothing is known.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from hub.settings import DEFAULT_TZ
from protocol import SEAT_STATES

STATES: tuple[str, ...] = SEAT_STATES  # the wire's list (protocol), not a copy
Bucket = Literal["hour", "day"]


class StatsInputError(ValueError):
    """A timeline that cannot be computed (bad state name, bad window, bad bucket)."""


@dataclass(frozen=True)
class SeatTimeline:
    """What is known about one seat for a window.

    ``transitions`` may include ones before the window start: they only set the starting state
    (and when the current occupied run began). Out-of-order input is sorted by time (replayed
    events arrive late but carry their capture time)."""

    initial: str | None = None
    transitions: Sequence[tuple[float, str]] = ()
    initial_since: float | None = None  # when ``initial`` began, if known (for stay lengths)


@dataclass
class Durations:
    occupied_s: float = 0.0
    empty_s: float = 0.0
    away_s: float = 0.0
    abandoned_s: float = 0.0
    unknown_s: float = 0.0

    def add(self, state: str, seconds: float) -> None:
        setattr(self, f"{state}_s", getattr(self, f"{state}_s") + seconds)

    def merge(self, other: Durations) -> None:
        for s in STATES:
            self.add(s, getattr(other, f"{s}_s"))

    @property
    def total_s(self) -> float:
        return self.occupied_s + self.empty_s + self.away_s + self.abandoned_s + self.unknown_s

    @property
    def known_s(self) -> float:
        return self.total_s - self.unknown_s

    @property
    def occupancy_rate(self) -> float | None:
        known = self.known_s
        return (self.occupied_s + self.away_s) / known if known > 0 else None


@dataclass
class SeatBucketStats(Durations):
    seat_id: str = ""
    start: float = 0.0
    end: float = 0.0
    entries: int = 0
    stays: int = 0
    stay_total_s: float = 0.0
    abandoned_incidents: int = 0

    @property
    def avg_stay_s(self) -> float | None:
        return self.stay_total_s / self.stays if self.stays else None


@dataclass
class StoreBucketStats(Durations):
    start: float = 0.0
    end: float = 0.0
    seats: int = 0
    entries: int = 0
    stays: int = 0
    stay_total_s: float = 0.0
    abandoned_incidents: int = 0

    @property
    def avg_stay_s(self) -> float | None:
        return self.stay_total_s / self.stays if self.stays else None


@dataclass(frozen=True)
class DayStats:
    day: date  # local calendar day
    seats: int
    stays: int
    turnover: float  # completed stays per seat that day
    abandoned_incidents: int
    occupancy_rate: float | None


@dataclass(frozen=True)
class PeakHour:
    hour: int  # local hour of day, 0..23
    occupancy_rate: float  # time-weighted over every such hour in the window


@dataclass
class StoreStats:
    start: float
    end: float
    bucket: str
    tz: str
    buckets: list[StoreBucketStats] = field(default_factory=list)
    seats: list[SeatBucketStats] = field(default_factory=list)  # ordered by seat, then time
    days: list[DayStats] = field(default_factory=list)
    peak_hours: list[PeakHour] = field(default_factory=list)


# --------------------------------------------------------------------------- buckets


def bucket_bounds(start: float, end: float, bucket: str, tz: str | ZoneInfo = DEFAULT_TZ) -> list[float]:
    """Bucket edges covering ``[start, end)``, clipped: ``[start, b1, b2, ..., end]``."""
    zone = zone_for(tz)
    if bucket not in ("hour", "day"):
        raise StatsInputError(f"bucket must be 'hour' or 'day', not {bucket!r}")
    if not end > start:
        raise StatsInputError(f"window end ({end}) must be after its start ({start})")
    edges = [start]
    local = datetime.fromtimestamp(start, zone)
    if bucket == "hour":
        # 3600 s steps from the local hour the window starts in (whole-hour offsets stay aligned)
        t = datetime.fromtimestamp(start, zone).replace(minute=0, second=0, microsecond=0).timestamp()
        t += 3600.0
        while t < end:
            edges.append(t)
            t += 3600.0
    else:
        d = local.date() + timedelta(days=1)
        while (t := _midnight(d, zone)) < end:
            if t > edges[-1]:
                edges.append(t)
            d += timedelta(days=1)
    edges.append(end)
    return edges


def _midnight(d: date, zone: ZoneInfo) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()


def zone_for(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd keys
        raise StatsInputError(f"unknown time zone {tz!r}") from exc


# --------------------------------------------------------------------------- one seat


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    state: str


@dataclass(frozen=True)
class _Mark:
    at: float
    kind: Literal["entry", "stay", "abandoned"]
    length: float = 0.0


# States that belong to a visit once it has begun (a person sat down).
VISIT_STATES = ("occupied", "away", "abandoned")


def _check_state(state: str, where: str) -> str:
    if state not in STATES:
        raise StatsInputError(f"{where}: unknown seat state {state!r} (expected one of {', '.join(STATES)})")
    return state


def visit_step(state: str, visit: float | None, at: float, to: str
               ) -> tuple[str, float | None, float | None, bool, bool]:
    """One transition under the visit rules, the only place they are written (segments, the
    rollups' carry and their partial walks all call this). From ``state`` with the open visit
    begun at ``visit`` (None: none open), a transition to ``to`` at ``at`` gives the new state and
    visit, the length of the stay it ends (None: none), whether it is an entry, and whether it is
    an abandoned incident. A repeated state is not a transition: nothing changes."""
    if to == state:
        return state, visit, None, False, False
    stay = None
    if visit is not None and to in ("empty", "unknown"):  # the visit ends: a stay
        stay, visit = at - visit, None
    entry = to == "occupied" and visit is None  # a person sat down (away -> occupied is not one)
    if entry:
        visit = at
    return to, visit, stay, entry, to == "abandoned"


def seat_segments(timeline: SeatTimeline, start: float, end: float) -> tuple[list[_Segment], list[_Mark]]:
    """Split ``[start, end)`` into constant-state segments, plus the countable moments."""
    state = _check_state(timeline.initial, "initial state") if timeline.initial is not None else "unknown"
    since = timeline.initial_since if timeline.initial_since is not None else start
    since = min(since, start)
    ordered = sorted(timeline.transitions, key=lambda tr: tr[0])  # stable: equal times keep order
    segs: list[_Segment] = []
    marks: list[_Mark] = []
    cur_from = start
    visit = since if state in VISIT_STATES else None  # when the open visit began
    for at, to in ordered:
        _check_state(to, f"transition at {at}")
        if at >= end:
            break
        if at < start:  # before the window: only sets where we begin
            state, visit, _, _, _ = visit_step(state, visit, at, to)
            continue
        if to == state:
            continue  # a repeated state is not a transition
        if at > cur_from:
            segs.append(_Segment(cur_from, at, state))
        state, visit, stay, entry, incident = visit_step(state, visit, at, to)
        if stay is not None:
            marks.append(_Mark(at, "stay", stay))
        if entry:
            marks.append(_Mark(at, "entry"))
        if incident:
            marks.append(_Mark(at, "abandoned"))
        cur_from = at
    segs.append(_Segment(cur_from, end, state))
    return segs, marks


def seat_bucket_stats(seat_id: str, timeline: SeatTimeline, edges: Sequence[float]) -> list[SeatBucketStats]:
    """Per-bucket numbers for one seat; ``edges`` from :func:`bucket_bounds`."""
    start, end = edges[0], edges[-1]
    out = [SeatBucketStats(seat_id=seat_id, start=a, end=b) for a, b in pairwise(edges)]
    segs, marks = seat_segments(timeline, start, end)
    for seg in segs:
        i = bisect.bisect_right(edges, seg.start) - 1
        t = seg.start
        while t < seg.end:
            b = out[i]
            stop = min(seg.end, b.end)
            b.add(seg.state, stop - t)
            t = stop
            i += 1
    for m in marks:
        b = out[bisect.bisect_right(edges, m.at) - 1]
        if m.kind == "entry":
            b.entries += 1
        elif m.kind == "stay":
            b.stays += 1
            b.stay_total_s += m.length
        else:
            b.abandoned_incidents += 1
    return out


# --------------------------------------------------------------------------- store


def compute_store_stats(
    timelines: Mapping[str, SeatTimeline],
    start: float,
    end: float,
    bucket: str = "hour",
    tz: str = DEFAULT_TZ,
    peak_count: int = 3,
) -> StoreStats:
    """Per-seat and per-store statistics for ``[start, end)`` in ``bucket`` steps."""
    zone = zone_for(tz)
    edges = bucket_bounds(start, end, bucket, zone)
    result = StoreStats(start=start, end=end, bucket=bucket, tz=str(zone.key))
    result.buckets = [StoreBucketStats(start=a, end=b) for a, b in pairwise(edges)]
    # day and hour views are always computed for turnover/incidents/peaks, whatever the bucket
    day_edges = bucket_bounds(start, end, "day", zone)
    hour_edges = edges if bucket == "hour" else bucket_bounds(start, end, "hour", zone)
    days = [StoreBucketStats(start=a, end=b) for a, b in pairwise(day_edges)]
    by_hour: dict[int, Durations] = {}
    for seat_id in sorted(timelines):
        tl = timelines[seat_id]
        rows = seat_bucket_stats(seat_id, tl, edges)
        result.seats.extend(rows)
        _accumulate(result.buckets, rows)
        _accumulate(days, rows if bucket == "day" else seat_bucket_stats(seat_id, tl, day_edges))
        hour_rows = rows if bucket == "hour" else seat_bucket_stats(seat_id, tl, hour_edges)
        for r in hour_rows:
            by_hour.setdefault(datetime.fromtimestamp(r.start, zone).hour, Durations()).merge(r)
    n = len(timelines)
    result.days = [
        DayStats(
            day=datetime.fromtimestamp(d.start, zone).date(),
            seats=n,
            stays=d.stays,
            turnover=d.stays / n if n else 0.0,
            abandoned_incidents=d.abandoned_incidents,
            occupancy_rate=d.occupancy_rate,
        )
        for d in days
    ]
    peaks = [PeakHour(h, rate) for h, dur in by_hour.items() if (rate := dur.occupancy_rate) is not None]
    peaks.sort(key=lambda p: (-p.occupancy_rate, p.hour))
    result.peak_hours = peaks[:peak_count]
    return result


def _accumulate(store_rows: list[StoreBucketStats], seat_rows: Iterable[SeatBucketStats]) -> None:
    for s, r in zip(store_rows, seat_rows):
        s.merge(r)
        s.seats += 1
        s.entries += r.entries
        s.stays += r.stays
        s.stay_total_s += r.stay_total_s
        s.abandoned_incidents += r.abandoned_incidents
