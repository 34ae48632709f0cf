"""Alerts reach the dashboard: a seat that an edge reports abandoned for longer than the limit
makes the alert service open an alert, the store page (already open in headless Chromium)
shows it live over the WebSocket, and it disappears when the seat is taken again.

Real parts: the hub app under uvicorn with its MQTT ingest and alert service, Mosquitto,
SQLite (embedded default), Debian Chromium through Playwright.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import sync_playwright

from hub.app import create_app
from hub.settings import AlertSettings
from tests.support.browser import launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import hub_settings
from tests.support.services import free_port
from tests.support.waiting import wait_for


def test_abandoned_seat_alert_appears_live_and_clears(sqlite_url, broker, sim):
    settings = hub_settings(broker, sqlite_url, alerts=AlertSettings(abandoned_alert_s=60))
    app = create_app(settings, migrate=True)
    with serve_app(app, free_port()) as base:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = sim()
        edge.birth({"s0": "occupied", "s1": "empty", "s2": "empty"})
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            create_user(sqlite_url, "admin", "admin")
            login_page(page, base, "admin")
            page.goto(f"{base}/stores/store-a")
            assert page.locator("#alerts-none").is_visible()  # "열린 알림이 없습니다."
            assert "열린 알림이 없습니다" in page.content()

            # The student left their things an hour ago (capture time), the edge reports it now.
            edge.delta({"s0": "abandoned"}, since=time.time() - 3600)
            page.wait_for_selector("li.alert.priority-high", timeout=20_000)  # pushed, no reload
            text = page.locator("li.alert").first.inner_text()
            assert "높음" in text and "A-0" in text  # priority and seat label, in Korean
            # opened at, store clock, in the hub's one date format (issue 19: was "04-12" from the
            # live script next to "12-04" from the server)
            live_time = page.locator("li.alert time").first.inner_text()
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", live_time), live_time
            assert not page.locator("#alerts-none").is_visible()
            # Without JavaScript the page renders the open alert too, with the same time.
            html = page.request.get(f"{base}/stores/store-a").text()
            assert 'class="alert priority-high"' in html and "A-0" in html
            assert f"<time>{live_time}</time>" in html, html[html.find("<time>"):][:60]

            edge.delta({"s0": "occupied"})
            page.wait_for_selector("li.alert", state="detached", timeout=20_000)
            assert page.locator("#alerts-none").is_visible()
            browser.close()
