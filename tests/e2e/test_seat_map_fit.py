"""Issue 19 point 11: on the store page in English every seat's texts stay inside its box
("occupied 57 s" overflowed boxes the demo's size), also after a state change and as timers grow,
and the page speaks of store boxes, not of "edges" and "the hub's file". Real hub, real Chromium."""

from __future__ import annotations

import time

import msgspec
import pytest
from playwright.sync_api import sync_playwright

from hub.app import create_app
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

OVERFLOWS = """() => [...document.querySelectorAll('g.seat')].flatMap(g => {
  const box = g.querySelector('polygon.fill').getBBox();
  return [...g.querySelectorAll('text')].map(t => ({seat: g.dataset.seatId, text: t.textContent,
    over: t.getBBox().width - box.width}));
}).filter(x => x.over > 0.5)"""


def test_seat_texts_fit_their_boxes_in_english(tmp_path, broker):
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    app = create_app(hub_settings(broker, db_url), migrate=True)
    with serve_app(app, free_port()) as base, sync_playwright() as p:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = SimEdge(broker, seats=4)
        # the demo's seat sizes: 0.21 x 0.27 and narrower
        for i, (x, w) in enumerate([(0.05, 0.21), (0.3, 0.21), (0.55, 0.12), (0.75, 0.08)]):
            edge.seats[i] = msgspec.structs.replace(edge.seats[i], channel=1, polygon=[
                (x, 0.3), (x + w, 0.3), (x + w, 0.57), (x, 0.57)])
        now = time.time()
        edge.birth({"s0": "occupied", "s1": "empty", "s2": "abandoned", "s3": "unknown"}, since=now - 57)
        create_user(db_url, "admin", "admin")
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        login_page(page, base, "admin")
        wait_for(lambda: page.request.get(f"{base}/api/v1/stores/store-a/seats").status == 200, what="seats")
        page.goto(f"{base}/stores/store-a?lang=en")
        page.wait_for_selector('g.seat[data-seat-id="s0"]')
        assert page.locator('g.seat[data-seat-id="s0"] text.timer').text_content().startswith("occupied ")
        assert page.evaluate(OVERFLOWS) == []
        # a live change to a longer text ("vacant 1 h 5 min" style) is squeezed as well
        edge.delta({"s0": "abandoned"}, since=now - 3900)
        page.wait_for_selector('g.seat.state-abandoned[data-seat-id="s0"]', timeout=10_000)
        page.wait_for_timeout(1200)  # one timer tick
        assert page.evaluate(OVERFLOWS) == []
        page.screenshot(path=artifact("hub-seat-map-fit-en.png"), full_page=True)
        text = page.locator("main").inner_text()
        assert "Store box" in text and "edge's own file" not in text and "Edges" not in text
        browser.close()
        edge.close()
