"""Issue 19 point 4 (edge side): the staff page shows store time with the zone's name (the same
moment the hub shows), whatever the box's zone; `seat-edge doctor` warns when the box's zone or
clock is off; a wrong zone name in edge.toml is refused with the fix."""

from __future__ import annotations

import pytest

from edge_agent.commands.doctor import clock_checks
from edge_agent.local_page.server import store_clock
from edge_agent.settings import ConfigError, parse_config

MOMENT = 1_796_477_580.0  # 2026-12-04 13:33:00 UTC = 22:33:00 KST


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
