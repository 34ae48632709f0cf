"""What the statistics and alerts API answers: msgspec output types, and the shaping of the pure
statistics (:mod:`hub.stats.compute`) into them, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from hub.stats.compute import StoreStats
from hub.system.csv_cells import safe_row


class BucketOut(msgspec.Struct):
    start: float
    end: float
    start_local: str
    occupied_s: float
    empty_s: float
    away_s: float
    abandoned_s: float
    unknown_s: float
    occupancy_rate: float | None
    entries: int
    stays: int
    avg_stay_s: float | None
    abandoned_incidents: int
    seats: int | None = None
    seat_id: str | None = None


class DayOut(msgspec.Struct):
    day: str
    seats: int
    stays: int
    turnover: float
    abandoned_incidents: int
    occupancy_rate: float | None


class PeakOut(msgspec.Struct):
    hour: int
    occupancy_rate: float


class StatsOut(msgspec.Struct):
    store_id: str
    from_: float = msgspec.field(name="from")
    to: float
    bucket: str
    tz: str
    buckets: list[BucketOut]  # store totals per bucket
    seats: list[BucketOut]  # per seat per bucket, ordered by seat then time
    days: list[DayOut]
    peak_hours: list[PeakOut]
    skipped_events: int = 0  # rows with a state name the statistics do not know (logged)


class AlertOut(msgspec.Struct):
    id: int
    store_id: str
    seat_id: str | None
    edge_id: str | None
    kind: str
    priority: str
    message: str
    opened_at: float
    closed_at: float | None
    last_sent_at: float | None
    delivered: bool
    attempts: int
    last_error: str | None


def _bucket_out(row: Any, zone: ZoneInfo, seats: int | None = None, seat_id: str | None = None) -> BucketOut:
    return BucketOut(
        start=row.start,
        end=row.end,
        start_local=datetime.fromtimestamp(row.start, zone).isoformat(),
        occupied_s=row.occupied_s,
        empty_s=row.empty_s,
        away_s=row.away_s,
        abandoned_s=row.abandoned_s,
        unknown_s=row.unknown_s,
        occupancy_rate=row.occupancy_rate,
        entries=row.entries,
        stays=row.stays,
        avg_stay_s=row.avg_stay_s,
        abandoned_incidents=row.abandoned_incidents,
        seats=seats,
        seat_id=seat_id,
    )


def stats_out(store_id: str, s: StoreStats, skipped: int) -> StatsOut:
    zone = ZoneInfo(s.tz)
    return StatsOut(
        store_id=store_id,
        from_=s.start,
        to=s.end,
        bucket=s.bucket,
        tz=s.tz,
        buckets=[_bucket_out(b, zone, seats=b.seats) for b in s.buckets],
        seats=[_bucket_out(r, zone, seat_id=r.seat_id) for r in s.seats],
        days=[
            DayOut(d.day.isoformat(), d.seats, d.stays, d.turnover, d.abandoned_incidents, d.occupancy_rate)
            for d in s.days
        ],
        peak_hours=[PeakOut(p.hour, p.occupancy_rate) for p in s.peak_hours],
        skipped_events=skipped,
    )


CSV_COLUMNS = (
    "scope",
    "seat_id",
    "start_local",
    "start",
    "end",
    "occupied_s",
    "empty_s",
    "away_s",
    "abandoned_s",
    "unknown_s",
    "occupancy_rate",
    "entries",
    "stays",
    "avg_stay_s",
    "abandoned_incidents",
    "tz",  # the zone of start_local and of the buckets (issue 19: exports say which clock)
)


def stats_csv(out: StatsOut) -> str:
    buf = io.StringIO()
    # RFC 4180 line ends (as events.csv): with "\n" a CR inside a seat id went out unquoted and
    # split its row in two for every CSV reader.
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for scope, rows in (("store", out.buckets), ("seat", out.seats)):
        for r in rows:
            w.writerow(
                safe_row([
                    scope,
                    r.seat_id or "",
                    r.start_local,
                    r.start,
                    r.end,
                    r.occupied_s,
                    r.empty_s,
                    r.away_s,
                    r.abandoned_s,
                    r.unknown_s,
                    "" if r.occupancy_rate is None else round(r.occupancy_rate, 6),
                    r.entries,
                    r.stays,
                    "" if r.avg_stay_s is None else round(r.avg_stay_s, 3),
                    r.abandoned_incidents,
                    out.tz,
                ])
            )
    return buf.getvalue()
