"""Retention settings and cut-off times (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.db.retention import cutoffs, months_before
from hub.settings import RetentionSettings, SettingsError, parse_settings


def ts(*a) -> float:
    return datetime(*a, tzinfo=UTC).timestamp()


def test_months_before_is_calendar_months_clamped_to_month_end():
    assert months_before(ts(2027, 3, 31, 12), 1) == ts(2027, 2, 28, 12)
    assert months_before(ts(2028, 3, 31), 1) == ts(2028, 2, 29)  # leap year
    assert months_before(ts(2027, 1, 15), 13) == ts(2025, 12, 15)
    assert months_before(ts(2027, 1, 15), 0) == ts(2027, 1, 15)


def test_cutoffs_follow_the_settings():
    now = ts(2027, 6, 1)
    c = cutoffs(RetentionSettings(health_keys_minutes=30, dedupe_days=2, raw_events_months=0), now)
    assert c.health_keys == now - 1800 and c.dedupe_keys == now - 2 * 86400 and c.raw_events is None


def test_retention_table_parses_and_bad_values_say_what_to_do():
    s = parse_settings(b"[retention]\nraw_events_months = 24\ndedupe_days = 3\n")
    assert s.retention.raw_events_months == 24 and s.retention.dedupe_days == 3
    with pytest.raises(SettingsError, match="health_keys_minutes must be >= 5"):
        parse_settings(b"[retention]\nhealth_keys_minutes = 0.05\n")
    with pytest.raises(SettingsError, match="must cover mqtt.session_expiry_s"):
        parse_settings(b"[retention]\ndedupe_days = 1\n[mqtt]\nsession_expiry_s = 172800\n")
    with pytest.raises(SettingsError, match="retention"):
        parse_settings(b"[retention]\nkeep_forever = true\n")  # unknown key


def test_example_file_holds_the_defaults():
    from pathlib import Path

    example = parse_settings((Path(__file__).parents[2] / "hub.toml.example").read_bytes())
    assert example.retention == RetentionSettings()
