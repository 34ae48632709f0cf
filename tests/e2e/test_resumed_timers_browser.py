"""Issue 19 point 8 in a real headless Chromium: after a restart of the store box a seat's timer
starts again, and the pages say the time before the restart is unknown instead of implying the
whole duration (hub store page: seat map and seat list, live; the edge's staff page). A real
transition of the seat clears the note.

Real parts: the hub app under uvicorn with its MQTT ingest, Mosquitto (topic prefix), SQLite,
the edge's local page server on its SQLite store, Debian Chromium through Playwright.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import sync_playwright

from edge_agent.agent import resumed_states
from edge_agent.local_page.passwords import hash_password
from edge_agent.local_page.server import LocalPage
from edge_agent.settings import LocalUiSection
from edge_agent.storage.db import EdgeStore
from hub.app import create_app
from protocol import SeatDef, SeatSnapshot, StateRules
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import ServiceUnavailable, free_port, shared_broker
from tests.support.waiting import wait_for

KO, EN = "재시작 전 시간 알 수 없음", "time before restart unknown"


def _note(page, seat: str) -> tuple[str, str]:
    """(seat map note, seat list note without its brackets) of a seat."""
    return (page.locator(f'g[data-seat-id="{seat}"] text.resumed-note').text_content(),
            page.locator(f'tr[data-seat-id="{seat}"] .resumed-note').text_content().strip("()"))


def test_hub_store_page_says_the_time_before_a_restart_is_unknown(tmp_path):
    try:
        broker_cm = shared_broker()
        broker = broker_cm.__enter__()
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))
    try:
        db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
        app = create_app(hub_settings(broker, db_url), migrate=True)
        with serve_app(app, free_port()) as base:
            wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
            create_user(db_url, "admin", "admin")
            edge = SimEdge(broker, seats=3)
            try:
                # the box restarted 3 minutes ago: s0 and s1 kept their states, their timers restarted
                edge.birth({"s0": "empty", "s1": "occupied", "s2": "empty"}, since=time.time() - 185,
                           resumed={"s0", "s1"})
                with sync_playwright() as p:
                    browser = launch_chromium(p)
                    page = browser.new_page(viewport={"width": 1180, "height": 820})
                    login_page(page, base, "admin")
                    page.goto(f"{base}/stores/store-a")
                    page.wait_for_selector('#live-status[data-state="connected"]', timeout=10_000)
                    assert _note(page, "s0") == (KO, KO) and _note(page, "s1") == (KO, KO)
                    assert _note(page, "s2") == ("", "")  # a state the edge saw begin: no note
                    row = page.locator('tr[data-seat-id="s0"] td.dur').inner_text()
                    assert row.startswith("빈 지 3분") and f"({KO})" in row, row
                    page.screenshot(path=artifact("issue-19-resumed-hub-store-ko.png"), full_page=True)
                    page.goto(f"{base}/stores/store-a?lang=en")
                    assert _note(page, "s0") == (EN, EN)
                    assert page.locator('tr[data-seat-id="s1"] td.dur').inner_text().startswith("occupied 3 min")
                    page.wait_for_selector('#live-status[data-state="connected"]', timeout=10_000)
                    # someone sits down at s0: a real transition, its start known: the note goes, live
                    edge.delta({"s0": "occupied"}, since=time.time())
                    page.wait_for_selector('g[data-seat-id="s0"].state-occupied', timeout=10_000)
                    assert _note(page, "s0") == ("", "") and _note(page, "s1") == (EN, EN)
                    browser.close()
            finally:
                edge.close()
    finally:
        broker_cm.__exit__(None, None, None)


def test_edge_staff_page_says_the_time_before_a_restart_is_unknown(tmp_path):
    seats = [SeatDef("A1", 1, [(0.05, 0.1), (0.45, 0.1), (0.45, 0.6), (0.05, 0.6)], label="A-1"),
             SeatDef("A2", 1, [(0.55, 0.1), (0.95, 0.1), (0.95, 0.6), (0.55, 0.6)], label="A-2")]
    store = EdgeStore(tmp_path / "edge.sqlite")
    store.set_config(2, seats, StateRules())
    now = time.time()
    # what the agent saves after its restart: the stored states with their timers restarted
    store.save_states(resumed_states([SeatSnapshot("A1", "empty", now - 3600)], now - 130)
                      + [SeatSnapshot("A2", "occupied", now - 60)])
    password = "desk-lamp-42"
    srv = LocalPage(LocalUiSection(listen="127.0.0.1", port=0, password_hash=hash_password(password)), store,
                    refresh_s=0.3)
    srv.start()
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(srv.url)
            page.fill("#password", password)
            page.click("#login-submit")
            page.wait_for_selector("#seat-table")
            assert _note(page, "A1") == (KO, KO) and _note(page, "A2") == ("", "")
            assert page.locator('tr[data-seat-id="A1"] td.since').inner_text().startswith("빈 지 2분")
            page.screenshot(path=artifact("issue-19-resumed-edge-page-ko.png"), full_page=True)
            # the seat changes (a real transition): the page's polling drops the note
            store.save_states([SeatSnapshot("A1", "occupied", time.time())])
            page.wait_for_selector('g[data-seat-id="A1"].state-occupied', timeout=5000)
            assert _note(page, "A1") == ("", "")
            browser.close()
    finally:
        srv.stop()
        store.close()
