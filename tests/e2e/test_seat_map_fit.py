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


def test_admin_sees_the_blurred_camera_still_behind_the_seats(tmp_path, broker):
    """Issue 19 point 11: the seat map of an admin shows the channel's newest (face-blurred)
    snapshot behind the seats; store staff, who may not see snapshots, get the plain map."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np

    from hub.db.models import Snapshot
    from hub.db.session import make_engine, make_sessionmaker

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    app = create_app(hub_settings(broker, db_url), migrate=True)
    with serve_app(app, free_port()) as base, sync_playwright() as p:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = SimEdge(broker, seats=2)
        edge.birth()
        create_user(db_url, "admin", "admin")
        create_user(db_url, "alice", "staff", stores=["store-a"])
        img = np.full((360, 640, 3), (40, 120, 200), np.uint8)
        jpeg = cv2.imencode(".jpg", img)[1].tobytes()

        async def add_snapshot() -> None:
            engine = make_engine(db_url)
            async with make_sessionmaker(engine)() as db:
                db.add(Snapshot(store_id="store-a", edge_id="edge-1", channel=1, request_id="r1",
                                requested_by="admin", requested_at=time.time(), received_at=time.time(),
                                jpeg=jpeg, faces_blurred=0))
                await db.commit()
            await engine.dispose()

        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs a loop in this thread
            pool.submit(asyncio.run, add_snapshot()).result()
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1180, "height": 820})
        login_page(page, base, "admin")
        wait_for(lambda: page.request.get(f"{base}/api/v1/stores/store-a/seats").status == 200, what="seats")
        page.goto(f"{base}/stores/store-a")
        still = page.locator('figure.channel[data-channel="1"] image.still')
        assert still.count() == 1
        loaded = page.evaluate("""async (href) => { const r = await fetch(href); return [r.status,
            r.headers.get('content-type')]; }""", still.get_attribute("href"))
        assert loaded == [200, "image/jpeg"]
        assert page.locator('figure.channel[data-channel="2"] image.still').count() == 0  # no still there
        page.screenshot(path=artifact("hub-seat-map-still.png"), full_page=True)
        staff = browser.new_context().new_page()
        login_page(staff, base, "alice")
        staff.goto(f"{base}/stores/store-a")
        assert staff.locator("image.still").count() == 0
        browser.close()
        edge.close()
