"""The pure period arithmetic of hub/db/partitions.py: UTC months and days, year ends."""

from datetime import UTC, datetime

from hub.db.partitions import SCHEMES, Scheme, period_of, periods

(EVENTS,) = SCHEMES
KEYS = Scheme("keys", "ts", "day", 3, 14)  # day periods, as a shorter-lived table would use


def ts(*a) -> float:
    return datetime(*a, tzinfo=UTC).timestamp()


def test_month_and_day_periods():
    p = period_of(EVENTS, ts(2026, 12, 31, 23, 59, 59))
    assert (p.name, p.lo, p.hi) == ("seat_events_p202612", ts(2026, 12, 1), ts(2027, 1, 1))
    p = period_of(EVENTS, ts(2028, 2, 10))
    assert p.hi - p.lo == 29 * 86400  # leap February
    p = period_of(KEYS, ts(2026, 12, 31, 12))
    assert (p.name, p.lo, p.hi) == ("keys_p20261231", ts(2026, 12, 31), ts(2027, 1, 1))
    assert period_of(EVENTS, ts(2027, 1, 1)).name == "seat_events_p202701"  # a bound belongs to the next


def test_periods_run_from_the_first_row_to_ahead_of_now_without_gaps():
    ps = periods(EVENTS, ts(2026, 10, 15), ts(2026, 12, 4))
    assert [p.name[-6:] for p in ps] == ["202610", "202611", "202612", "202701", "202702"]
    assert all(a.hi == b.lo for a, b in zip(ps, ps[1:]))
    ks = periods(KEYS, ts(2026, 12, 4, 18), ts(2026, 12, 4, 18))
    assert [p.name[-8:] for p in ks] == ["20261204", "20261205", "20261206", "20261207"]


def test_a_backlog_older_than_back_gets_no_partitions():
    ps = periods(KEYS, ts(2026, 6, 1), ts(2026, 12, 4))
    assert ps[0].name == "keys_p20261120" and len(ps) == 14 + 1 + 3
