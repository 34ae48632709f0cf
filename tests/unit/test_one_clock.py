"""Issue 19 point 4 (edge side): the staff page shows store time with the zone's name (the same
moment the hub shows), whatever the box's zone; `seat-edge doctor` warns when the box's zone or
clock is off; a wrong zone name in edge.toml is refused with the fix."""

from __future__ import annotations

import pytest

from edge_agent.commands.doctor import clock_checks
from edge_agent.local_page.server import store_clock
from edge_agent.settings import ConfigError, parse_config

MOMENT = 1_796_477_580.0  # 2026-12-05 13:33:00 UTC = 22:33:00 KST


def test_staff_page_clock_is_store_time_with_its_zone():
    from zoneinfo import ZoneInfo

    assert store_clock(MOMENT, ZoneInfo("Asia/Seoul")) == "22:33:00 KST"  # not the box's 13:33
    assert store_clock(float("inf"), ZoneInfo("Asia/Seoul")) == ""


def test_doctor_warns_about_the_box_zone_and_an_unsynchronised_clock():
    checks = {c.name: c for c in clock_checks("Asia/Seoul", 0.0, 9 * 3600.0, ntp_synced=False)}
    assert checks["time zone"].level == "warn" and "UTC+0" in checks["time zone"].detail
    assert checks["time zone"].fix == "sudo timedatectl set-timezone Asia/Seoul"
    assert checks["clock"].level == "warn" and "set-ntp true" in checks["clock"].fix
    fine = clock_checks("Asia/Seoul", 9 * 3600.0, 9 * 3600.0, ntp_synced=True)
    assert all(c.level == "ok" for c in fine)


def test_unknown_zone_name_is_refused():
    raw = {"edge": {"store_id": "s1", "timezone": "Asia/Seol"}}
    with pytest.raises(ConfigError, match="Asia/Seol.*no time zone name"):
        parse_config(raw, "edge.toml")
    assert parse_config({"edge": {"store_id": "s1"}}, "edge.toml").edge.timezone == "Asia/Seoul"


def test_a_store_zone_is_its_own_else_the_hubs_and_pages_name_it():
    from zoneinfo import ZoneInfo

    from hub.params import store_zone, zone_label

    assert store_zone("Europe/Berlin", "Asia/Seoul").key == "Europe/Berlin"
    assert store_zone("", "Asia/Seoul").key == "Asia/Seoul"  # "" = the hub's
    assert store_zone("Mars/Olympus", "Europe/London").key == "Europe/London"  # a name no longer known
    assert zone_label(ZoneInfo("Asia/Seoul"), MOMENT) == "Asia/Seoul (KST, UTC+09:00)"
    assert zone_label(ZoneInfo("Europe/Berlin"), 1_783_296_000.0) == "Europe/Berlin (CEST, UTC+02:00)"  # July
    assert zone_label(ZoneInfo("Asia/Dubai"), MOMENT) == "Asia/Dubai (UTC+04:00)"  # no abbreviation: "+04" left out


def test_hub_settings_refuse_an_unknown_zone():
    from hub.settings import SettingsError, parse_settings

    assert parse_settings(b'timezone = "Europe/Berlin"\n').timezone == "Europe/Berlin"
    with pytest.raises(SettingsError, match="Asia/Seol.*no time zone name"):
        parse_settings(b'timezone = "Asia/Seol"\n')


def test_history_line_writes_dates_in_full_in_the_stores_zone():
    from datetime import date
    from zoneinfo import ZoneInfo

    from hub.stats.compute import SeatTimeline, compute_store_stats
    from hub.web.history import history_view

    berlin = ZoneInfo("Europe/Berlin")
    from datetime import datetime

    start = datetime(2026, 12, 4, tzinfo=berlin).timestamp()
    stats = compute_store_stats({"A": SeatTimeline()}, start, start + 2 * 3600, "hour", "Europe/Berlin")
    chart = history_view(stats, [date(2026, 12, 4)], {"A": "A"}, berlin)["chart"]
    assert chart["line"]["x"] == ["2026-12-04 00:00", "2026-12-04 01:00"]  # not "12-04 00:00"
    assert chart["zone"] == "Europe/Berlin"


def test_staff_page_events_carry_their_date():
    from zoneinfo import ZoneInfo

    assert store_clock(MOMENT, ZoneInfo("Asia/Seoul"), "%Y-%m-%d %H:%M:%S %Z") == "2026-12-05 22:33:00 KST"
