"""The dashboards in a real headless Chromium: a seat changes colour when the edge reports it,
the history page draws its charts with data, and a polygon drawn in the ROI editor is saved as a
new config version that reaches the edge (and shows "applied" once the edge acks).

Real parts: the hub app under uvicorn with its MQTT ingest, Mosquitto (the machine's, isolated by
a topic prefix), SQLite (the embedded default), Debian Chromium through Playwright, the vendored
ECharts. One hub, one simulated edge and one browser for the whole module, to keep it fast.
Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import msgspec
import pytest
from playwright.sync_api import sync_playwright

from hub.app import create_app
from hub.web.common import SEOUL
from protocol import Config, ConfigAck, encode
from protocol.messages import Frame, FrameRequest
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import ServiceUnavailable, free_port, shared_broker
from tests.support.waiting import wait_for

TABLET = {"width": 1180, "height": 820}  # a 11" tablet in landscape, the counter's screen


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    try:
        broker_cm = shared_broker()
        broker = broker_cm.__enter__()
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))
    db = tmp_path_factory.mktemp("dash") / "hub.sqlite"
    app = create_app(hub_settings(broker, f"sqlite+aiosqlite:///{db}"), migrate=True)
    with serve_app(app, free_port()) as base:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        edge = SimEdge(broker, seats=4)
        s0 = edge.seats[0]  # one seat with its own desk zone: the editor must keep it
        edge.seats[0] = msgspec.structs.replace(s0, desk=[(0.0, 0.2), (0.1, 0.2), (0.1, 0.25), (0.0, 0.25)])
        now = time.time()
        edge.birth({"s0": "occupied", "s1": "empty", "s2": "abandoned", "s3": "empty"}, since=now - 300)
        # A day and a half of history (replayed events with their capture times).
        for hours_ago, seat, frm, to in [(30, "s0", "empty", "occupied"), (27, "s0", "occupied", "empty"),
                                         (29, "s1", "empty", "occupied"), (25, "s1", "occupied", "empty"),
                                         (6, "s2", "empty", "occupied"), (4, "s2", "occupied", "away"),
                                         (3, "s2", "away", "abandoned"), (5, "s0", "empty", "occupied")]:
            edge.event(seat, frm, to, at=now - hours_ago * 3600, historical=True)
        wait_for(lambda: _events(app) >= 8, timeout=15, what="history ingested")
        db_url = f"sqlite+aiosqlite:///{db}"
        create_user(db_url, "admin", "admin")
        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx = browser.new_context(viewport=TABLET)
            page = ctx.new_page()
            page.goto(f"{base}/stores/store-a")  # not logged in: the login form, then back here
            assert "/login" in page.url
            page.screenshot(path=artifact("hub-login.png"))
            login_page(page, base, "admin")
            yield {"base": base, "edge": edge, "page": page, "app": app, "broker": broker, "db_url": db_url}
            ctx.close()
            browser.close()
        # the pushed configs are retained on the machine's broker: clear them
        edge.client.publish(edge.topics.topic("store-a", "edge-1", "config"), b"", qos=1, retain=True).wait_for_publish(5)
        edge.close()
    broker_cm.__exit__(None, None, None)


def _events(app) -> int:
    """Seat events stored so far (read from the database: the API needs a login)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from hub.db.models import SeatEvent

    async def count() -> int:
        async with app.state.sessionmaker() as db:
            return (await db.execute(select(func.count()).select_from(SeatEvent))).scalar_one()

    with ThreadPoolExecutor(1) as pool:  # the app's own loop runs in the server thread
        return pool.submit(asyncio.run, count()).result()


def _fill(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).fill")


def test_overview_then_seat_changes_colour_live(hub):
    page, base, edge = hub["page"], hub["base"], hub["edge"]
    page.goto(f"{base}/")
    tile = page.locator('.tile[data-store-id="store-a"]')
    assert tile.locator(".occupied").inner_text() == "2" and tile.locator(".total").inner_text() == "4"
    assert "장기 방치 1석" in tile.inner_text() and "장비 정상" in tile.inner_text()
    page.wait_for_selector("#compare-chart[data-drawn] svg path", state="attached", timeout=10_000)
    page.screenshot(path=artifact("hub-overview.png"), full_page=True)

    page.goto(f"{base}/stores/store-a")
    page.wait_for_selector('#live-status[data-state="connected"]', timeout=10_000)
    seat = 'g[data-seat-id="s1"] polygon.fill'
    before = _fill(page, seat)
    assert before == "rgb(46, 125, 50)"  # empty: green (and an outline, and the ○ icon)
    assert page.locator('tr[data-seat-id="s1"] .state-name').inner_text() == "빈 좌석"
    timer = page.locator('g[data-seat-id="s1"] text.timer').text_content()
    assert timer.startswith("빈 지 ")
    page.screenshot(path=artifact("hub-store-before.png"), full_page=True)

    edge.delta({"s1": "occupied"}, since=time.time() - 2)  # the edge reports it: no reload
    page.wait_for_selector('g[data-seat-id="s1"].state-occupied', timeout=10_000)
    assert _fill(page, seat) == "rgb(21, 101, 192)" != before  # occupied: blue
    assert page.locator('g[data-seat-id="s1"] .icon').text_content() == "●"
    assert page.locator('tr[data-seat-id="s1"] .state-name').inner_text() == "사용 중"
    assert page.locator('[data-count="occupied"]').inner_text() == "2"
    first = page.locator('g[data-seat-id="s1"] text.timer').text_content()
    assert first.startswith("사용 ") and first.endswith("초째")
    page.wait_for_function(
        # a function, not an expression string: Playwright evals the latter, which the hub's CSP forbids
        f"() => document.querySelector('g[data-seat-id=\"s1\"] text.timer').textContent !== {first!r}", timeout=5000)
    page.screenshot(path=artifact("hub-store-after.png"), full_page=True)


def test_history_draws_heatmap_and_lines_with_data(hub):
    page, base = hub["page"], hub["base"]
    today = datetime.now(SEOUL).date()
    page.goto(f"{base}/stores/store-a/history?from={today - timedelta(days=1)}&to={today}")
    page.wait_for_selector("#heatmap-chart[data-drawn] svg", timeout=10_000)
    heat = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent).heat.length")
    assert heat >= 24  # at least a day of hours with something known
    assert page.get_attribute("#heatmap-chart", "data-empty") == "0"
    # ECharts' SVG renderer draws each heatmap cell as a path filled from the colour scale.
    cells = page.evaluate("""() => [...document.querySelectorAll('#heatmap-chart svg path')]
        .filter(p => /^rgb|^#/.test(p.getAttribute('fill') || '') && (p.getAttribute('d') || '').length > 10).length""")
    assert cells >= heat
    # The occupancy line: one path with a point per hour of data.
    longest = page.evaluate("""() => Math.max(...[...document.querySelectorAll('#occupancy-chart svg path')]
        .map(p => ((p.getAttribute('d') || '').match(/L/g) || []).length))""")
    assert longest >= 24
    page.wait_for_selector("#perday-chart[data-drawn] svg path", state="attached", timeout=5000)
    assert page.locator("#per-day tbody tr").count() == 2
    assert page.locator("#peaks li").count() >= 1
    page.screenshot(path=artifact("hub-history.png"), full_page=True)


def test_roi_editor_draw_polygon_save_and_applied(hub):
    page, base, edge = hub["page"], hub["base"], hub["edge"]
    page.goto(f"{base}/stores/store-a/roi?channel=1")
    page.wait_for_selector("#roi-list li")
    before = page.locator("#roi-list li").count()
    page.click("#roi-new")
    box = page.locator("#roi-svg").bounding_box()
    corners = [(0.60, 0.55), (0.85, 0.55), (0.85, 0.90), (0.60, 0.90)]
    for fx, fy in corners:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.click("#roi-finish")
    # Move a corner: drag the handle of the third point a little down and right.
    x3, y3 = box["x"] + 0.85 * box["width"], box["y"] + 0.90 * box["height"]
    page.mouse.move(x3, y3)
    page.mouse.down()
    page.mouse.move(x3 + 0.03 * box["width"], y3 + 0.04 * box["height"], steps=4)
    page.mouse.up()
    corners[2] = (0.88, 0.94)
    page.fill("#roi-label", "창가-1")
    assert page.locator("#roi-list li").count() == before + 1
    page.click("#roi-check")
    page.wait_for_selector("#roi-message.ok", timeout=5000)
    page.screenshot(path=artifact("hub-roi-drawn.png"), full_page=True)

    page.click("#roi-save")
    page.wait_for_selector('#roi-status[data-status="pending"]', timeout=10_000)
    cfg = page.request.get(f"{base}/api/v1/stores/store-a/edges/edge-1/config").json()
    new = next(s for s in cfg["seats"] if s["label"] == "창가-1")
    assert new["channel"] == 1 and len(new["polygon"]) == 4
    for (x, y), (fx, fy) in zip(new["polygon"], corners):
        assert abs(x - fx) < 0.01 and abs(y - fy) < 0.01
    assert {s["seat_id"] for s in cfg["seats"]} >= {"s0", "s1", "s2", "s3"}  # other channels kept
    s0 = next(s for s in cfg["seats"] if s["seat_id"] == "s0")
    assert s0["desk"] == [[0.0, 0.2], [0.1, 0.2], [0.1, 0.25], [0.0, 0.25]]  # fields the editor does not edit
    pushed = edge.wait_received(Config, timeout=10)
    assert pushed.version == cfg["desired_version"] and any(s.label == "창가-1" for s in pushed.seats)

    edge.send(ConfigAck(**edge.base(), version=pushed.version, ok=True))
    page.wait_for_selector('#roi-status[data-status="applied"]', timeout=15_000)
    assert page.locator("#roi-status").inner_text() == "적용됨"
    page.screenshot(path=artifact("hub-roi-applied.png"), full_page=True)

    # The next version is refused by the edge: the page says failed, with the edge's reason.
    page.click("#roi-save")
    pushed = edge.wait_received(Config, timeout=10)
    edge.send(ConfigAck(**edge.base(), version=pushed.version, ok=False, error="seat 'c1-01': channel 1 is offline"))
    page.wait_for_selector('#roi-status[data-status="failed"]', timeout=15_000)
    assert "channel 1 is offline" in page.locator("#roi-ack-error").inner_text()

    # Someone else saves meanwhile (another admin, another tab): this page's save is refused, not merged.
    url = f"{base}/api/v1/stores/store-a/edges/edge-1/config"
    current = page.request.get(url).json()
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    other = page.request.put(url, headers={"X-CSRF-Token": csrf},
                             data={"seats": current["seats"], "base_version": current["version"]})
    assert other.status == 200
    page.fill("#roi-label", "창가-2")
    page.click("#roi-save")
    page.wait_for_selector("#roi-message.error", timeout=5000)
    assert "다른 사람이" in page.locator("#roi-message").inner_text()
    assert page.request.get(url).json()["version"] == other.json()["version"]  # nothing overwritten


def test_roi_editor_asks_for_a_snapshot_and_draws_on_it(hub):
    """The edge answers the hub's frame request with a (blurred) 4:3 JPEG: the editor shows it
    and takes its aspect ratio, so seat coordinates stay fractions of the real frame."""
    import cv2
    import numpy as np

    page, base, edge = hub["page"], hub["base"], hub["edge"]
    edge.client.subscribe(edge.topics.topic("store-a", "edge-1", "frame_request"), qos=1)
    time.sleep(0.3)
    page.goto(f"{base}/stores/store-a/roi?channel=1")
    assert page.get_attribute("#roi-svg", "viewBox") == "0 0 1600 900"  # neutral 16:9 before
    page.click("#roi-snapshot")
    req = edge.wait_received(FrameRequest, timeout=10)
    assert req.channel == 1
    img = np.full((480, 640, 3), 200, np.uint8)
    cv2.rectangle(img, (100, 100), (300, 300), (40, 90, 200), -1)
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    edge.client.publish(edge.topics.topic("store-a", "edge-1", "frame"),
                        encode(Frame(store_id="store-a", edge_id="edge-1", ts=time.time(), request_id=req.request_id,
                                     channel=1, jpeg=jpeg, faces_blurred=0)), qos=1).wait_for_publish(5)
    page.wait_for_selector("#roi-svg[data-picture]", timeout=15_000)
    assert page.get_attribute("#roi-svg", "viewBox") == "0 0 1600 1200"  # the picture's 4:3
    assert page.get_attribute("#roi-picture", "visibility") == "visible"
    page.screenshot(path=artifact("hub-roi-snapshot.png"), full_page=True)


def test_english_switch_keeps_the_page(hub):
    page, base = hub["page"], hub["base"]
    page.goto(f"{base}/stores/store-a/history?seat=s0")
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert "seat=s0" in page.url and "lang=en" in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    assert "history" in page.locator("h1").inner_text()
    page.goto(f"{base}/stores/store-a")  # remembered by the cookie
    assert page.locator('tr[data-seat-id="s0"] .state-name').inner_text() == "Occupied"
    page.goto(f"{base}/stores/store-a?lang=ko")


def test_live_view_reconnects_by_itself_after_a_hub_restart(hub):
    """A second hub process on the same database (no MQTT needed): stop it under an open page,
    start it again on the same port; the page says it lost the connection, reconnects on its own
    and reloads once to pick up what it missed."""
    page, settings = hub["page"], hub_settings(hub["broker"], hub["db_url"])
    port = free_port()
    with serve_app(create_app(settings, start_mqtt=False), port) as base:
        page.goto(f"{base}/stores/store-a")
        page.wait_for_selector('#live-status[data-state="connected"]', timeout=10_000)
        page.evaluate("window.__before_restart = true")
    page.wait_for_selector('#live-status[data-state="disconnected"]', timeout=10_000)
    assert page.locator("#live-status").inner_text() == "실시간 연결 끊김 (재연결 중)"
    page.screenshot(path=artifact("hub-store-reconnecting.png"))
    with serve_app(create_app(settings, start_mqtt=False), port):
        page.wait_for_function("() => window.__before_restart === undefined", timeout=20_000)  # reloaded
        page.wait_for_selector('#live-status[data-state="connected"]', timeout=10_000)
        assert page.locator('g[data-seat-id="s0"]').count() == 1


def test_pages_work_without_javascript(hub):
    base = hub["base"]
    ctx = hub["page"].context.browser.new_context(viewport=TABLET, java_script_enabled=False)
    try:
        page = ctx.new_page()
        login_page(page, base, "admin")  # the login form works without JS too
        page.goto(f"{base}/stores/store-a")
        assert page.locator('#live-status[data-state="static"]').inner_text() == "새로 고침해야 갱신됩니다 (실시간 꺼짐)"
        assert page.locator("g[data-seat-id]").count() == 4 and page.locator(".seat-legend li").count() == 5
        page.select_option("#store-picker", "store-a")
        page.click(".store-picker button")  # the <noscript> submit of the picker
        assert page.url.endswith("/stores/store-a")
        page.goto(f"{base}/stores/store-a/history?seat=s0")
        assert page.locator("#per-day tbody tr").count() >= 1  # the numbers, without charts
        page.screenshot(path=artifact("hub-history-no-js.png"), full_page=True)
    finally:
        ctx.close()


def test_roi_editor_save_keeps_the_state_rules(hub):
    """Issue 19: tuned state rules survive a save from the ROI editor (which edits seats only)."""
    page, base, edge = hub["page"], hub["base"], hub["edge"]
    url = f"{base}/api/v1/stores/store-a/edges/edge-1/config"
    page.goto(f"{base}/stores/store-a/roi?channel=1")
    page.wait_for_selector("#roi-list li")
    current = page.request.get(url).json()
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    tuned = page.request.put(url, headers={"X-CSRF-Token": csrf}, data={
        "seats": current["seats"], "base_version": current["version"],
        "rules": {"enter_s": 4, "exit_s": 30, "abandoned_after_s": 900}})
    assert tuned.status == 200, tuned.text()
    page.reload()  # the editor opens on the tuned version
    page.wait_for_selector("#roi-list li")
    page.locator("#roi-list li").first.click()  # select a seat, rename it: a seats-only edit
    page.fill("#roi-label", "창가-3")
    page.click("#roi-save")
    # the tuned push is pending already: wait for the editor's own save (the next version)
    want = tuned.json()["version"] + 1
    wait_for(lambda: page.request.get(url).json()["version"] == want, timeout=10, what="the editor's save")
    after = page.request.get(url).json()
    r = after["rules"]
    assert (r["enter_s"], r["exit_s"], r["abandoned_after_s"]) == (4, 30, 900), r
    while True:  # the edge gets the tuned rules with the editor's seats
        pushed = edge.wait_received(Config, timeout=10)
        if pushed.version == after["version"]:
            break
    assert pushed.rules.exit_s == 30 and pushed.rules.abandoned_after_s == 900
