"""hub.params.parse_time: one reading of a time for every endpoint (events API and statistics)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from litestar.exceptions import ClientException

from hub.params import parse_optional_time, parse_time

SEOUL = ZoneInfo("Asia/Seoul")


def test_no_offset_is_store_time_an_offset_or_z_is_respected():
    local = datetime(2026, 3, 1, 9, 0, tzinfo=SEOUL).timestamp()
    assert parse_time("2026-03-01T09:00", "from") == local
    assert parse_time("2026-03-01T00:00Z", "from") == local  # 09:00 KST is 00:00 UTC
    assert parse_time("2026-03-01T00:00+00:00", "from") == local
    assert parse_time("2026-03-01T10:00+10:00", "from") == local
    assert parse_time("2026-03-01", "from") == datetime(2026, 3, 1, tzinfo=SEOUL).timestamp()
    # another store zone, when the endpoint takes one
    assert parse_time("2026-03-01T09:00", "from", ZoneInfo("UTC")) == datetime(2026, 3, 1, 9, tzinfo=UTC).timestamp()


def test_epoch_seconds_pass_through():
    assert parse_time(" 1772323200.5 ", "to") == 1772323200.5
    assert parse_optional_time(None, "to") is None and parse_optional_time("", "to") is None


def test_anything_else_is_a_400_that_says_what_to_send():
    with pytest.raises(ClientException) as e:
        parse_time("yesterday", "from")
    assert e.value.status_code == 400
    assert "from: 'yesterday' is neither epoch seconds nor ISO 8601" in e.value.detail


def test_both_apis_use_it():
    import hub.stats.api as stats_api
    import hub.stores.api as stores_api

    assert stats_api.parse_time is parse_time and stores_api.parse_optional_time is parse_optional_time
