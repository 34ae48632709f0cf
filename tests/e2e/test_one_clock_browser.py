"""Issue 19 point 4 in a real headless Chromium set to another locale and zone (en-US, Los
Angeles): a store in Berlin shows its times in Berlin time and says so; date fields and chart axes
write YYYY-MM-DD and name their zone; the overview names the hub's zone.

Real parts: the `seat-hub store add --timezone` CLI, the hub app under uvicorn with its MQTT
ingest, Mosquitto (topic prefix), SQLite (the embedded default), Debian Chromium with the vendored
ECharts.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli.main import app as cli
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import ServiceUnavailable, free_port, shared_broker
from tests.support.waiting import wait_for

BERLIN = ZoneInfo("Europe/Berlin")
ISO_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:00$")


def _svg_texts(page, chart: str) -> list[str]:
    return page.evaluate(f"() => [...document.querySelectorAll('#{chart} svg text')].map(t => t.textContent)")


def test_a_berlin_store_in_a_los_angeles_browser(tmp_path):
    try:
        broker_cm = shared_broker()
        broker = broker_cm.__enter__()
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))
    try:
        db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
        cfg = tmp_path / "hub.toml"
        cfg.write_text(f'[database]\nurl = "{db_url}"\n')
        r = CliRunner().invoke(cli, ["store", "add", "store-a", "--timezone", "Europe/Berlin", "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        app = create_app(hub_settings(broker, db_url), migrate=True)
        with serve_app(app, free_port()) as base:
            wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
            create_user(db_url, "admin", "admin")
            edge = SimEdge(broker, seats=2)
            try:
                now = time.time()
                edge.birth({"s0": "occupied", "s1": "empty"}, since=now - 300)
                for hours_ago, seat, frm, to in [(20, "s0", "empty", "occupied"), (18, "s0", "occupied", "empty"),
                                                 (5, "s1", "empty", "occupied"), (3, "s1", "occupied", "empty")]:
                    edge.event(seat, frm, to, at=now - hours_ago * 3600, historical=True)
                with sync_playwright() as p:
                    browser = launch_chromium(p)
                    ctx = browser.new_context(locale="en-US", timezone_id="America/Los_Angeles",
                                              viewport={"width": 1180, "height": 900})
                    page = ctx.new_page()
                    login_page(page, base, "admin")
                    page.goto(f"{base}/stores/store-a?lang=en")
                    wait_for(lambda: page.reload() and page.locator("tr[data-seat-id]").count() == 2,
                             what="seats on the page")
                    assert "Europe/Berlin (CE" in page.locator("#store-zone").inner_text()
                    assert "store time (Europe/Berlin" in page.locator("#clock-rule").inner_text()

                    today = datetime.now(BERLIN).date()
                    page.goto(f"{base}/stores/store-a/history?from={today - timedelta(days=1)}&to={today}")
                    page.wait_for_selector("#occupancy-chart[data-drawn] svg", timeout=10_000)
                    # the date fields show YYYY-MM-DD, not the browser's 12/03/2026
                    field = page.locator('input[name="from"]')
                    assert field.evaluate("e => e.type") == "text" and field.input_value() == str(today - timedelta(days=1))
                    assert field.get_attribute("placeholder") == "YYYY-MM-DD"
                    # the line's hours carry their date, ISO; the axes name the zone
                    labels = _svg_texts(page, "occupancy-chart")
                    assert any(ISO_HOUR.match(x) for x in labels), labels
                    assert not any(re.fullmatch(r"\d{2}-\d{2} \d{2}:00", x) for x in labels), labels
                    assert "time (Europe/Berlin)" in labels
                    assert "hour (Europe/Berlin)" in _svg_texts(page, "heatmap-chart")
                    page.screenshot(path=artifact("issue-19-one-clock-history-berlin-en.png"), full_page=True)
                    # a date typed in the one format is taken as it reads
                    field.fill(str(today))
                    page.click('form.range button[type="submit"]')
                    page.wait_for_url(re.compile(rf"from={today}"))

                    page.goto(f"{base}/")  # several stores: the hub's zone, named on the chart too
                    page.wait_for_selector("#compare-chart[data-drawn] svg", timeout=10_000)
                    hub_day = datetime.now(ZoneInfo("Asia/Seoul")).date()
                    assert f"hour ({hub_day}, Asia/Seoul)" in _svg_texts(page, "compare-chart")
                    assert "the hub's time (Asia/Seoul" in page.locator("#clock-rule").inner_text()
                    browser.close()
            finally:
                edge.close()
    finally:
        broker_cm.__exit__(None, None, None)
