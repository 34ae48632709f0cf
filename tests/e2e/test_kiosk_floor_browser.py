"""The floor plan in a real headless Chromium: the kiosk's grid with camera colours and kiosk
marks, a live camera change recolouring a floor cell without a reload, the reconciliation alert on
the plan and in the alerts panel, the per-camera tab, English, the kiosk going down ("unknown
since"), and a store without a kiosk whose seats an admin places on the grid by hand.

Real parts: the hub under uvicorn with its MQTT ingest, Mosquitto, SQLite, the fake GoSca over
real HTTP (hub.kiosk.fake_gosca), Debian Chromium through Playwright. Screenshots go to
test-artifacts/screenshots/ (kiosk-*.png).
"""

from __future__ import annotations

import time

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from hub.app import create_app
from hub.kiosk.fake_gosca import FAKE_NAMES, FakeGoSca, chair
from hub.kiosk.settings import GoScaSettings, KioskRules
from tests.support.browser import artifact, launch_chromium, serve_app
from tests.support.hub_auth import create_user, login_page
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import free_port
from tests.support.waiting import wait_for

TABLET = {"width": 1180, "height": 900}


def after_reload(page) -> bool:
    """Reload and say whether it went through. The page reloads itself too (floorplan.js when the
    kiosk link changes, live.js after a dropped socket); a reload that crosses one of those is
    aborted by the browser, and the caller's wait simply tries again."""
    try:
        page.reload()
    except PlaywrightError as exc:
        if "ERR_ABORTED" not in str(exc) and "detached" not in str(exc):
            raise
        return False
    return True


def test_floor_plan_in_a_browser(broker, tmp_path):
    fake = FakeGoSca(store_code="oryu-sca", seats=[
        chair("A", 1, 1, in_use=True, name=FAKE_NAMES[0], remain="02:00", walls="tl"),
        chair("A", 1, 2, walls="t"),
        chair("A", 1, 3, in_use=True, name=FAKE_NAMES[1], remain="00:40", walls="tr"),
        chair("A", 2, 1, name=FAKE_NAMES[2], product="고정석", remain="100:00", walls="bl"),
        chair("A", 2, 2, walls="b"), chair("A", 2, 3, walls="br"),
    ]).start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    rules = KioskRules(hogging_min=0.02, unpaid_min=0.02, checkout_items_min=0.02)
    app = create_app(hub_settings(broker, url, kiosk={"oryudong": GoScaSettings(
        base_url=fake.url, store_code="oryu-sca", interval_s=1.0, timeout_s=0.5, max_backoff_s=2.0, rules=rules)}),
        migrate=True)
    edge = SimEdge(broker, store_id="oryudong", seats=3)
    plain = SimEdge(broker, store_id="gangnam", seats=2)  # a store without a kiosk
    try:
        with serve_app(app, free_port()) as base, sync_playwright() as pw:
            wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="MQTT")
            create_user(url, "boss", "admin")
            edge.birth({"s0": "occupied", "s1": "occupied", "s2": "empty"}, since=time.time() - 900)
            # gangnam's box restarted a minute ago: s0's timer restarted with it (issue 19 point 8)
            plain.birth({"s0": "occupied", "s1": "empty"}, since=time.time() - 60, resumed={"s0"})
            browser = launch_chromium(pw)
            page = browser.new_page(viewport=TABLET)
            login_page(page, base, "boss")

            # map the camera seats on the seat-link page (s0 -> A-1-1 paid, s1 -> A-1-2 free, s2 -> A-1-3 paid)
            page.goto(f"{base}/stores/oryudong/kiosk")
            wait_for(lambda: after_reload(page) and page.locator("select[name='map:s0'] option").count() >= 7,
                     timeout=15, what="kiosk seats imported by the poller")
            for cam, kid in (("s0", "A-1-1"), ("s1", "A-1-2"), ("s2", "A-1-3")):
                page.select_option(f"select[name='map:{cam}']", kid)
            page.click("#map-save")
            expect(page.locator("#unmapped-cams")).not_to_contain_text("A-")
            expect(page.locator("#unmapped-kiosk")).to_contain_text("A-2-1")

            # the ROI editor shows the same mapping for its channel's polygons
            page.goto(f"{base}/stores/oryudong/roi?channel=1")
            expect(page.locator("#roi-kiosk select[name='map:s0']")).to_have_value("A-1-1")
            expect(page.locator("#roi-unmapped-kiosk")).to_contain_text("A-2-1")
            page.screenshot(path=artifact("kiosk-roi-editor-mapping-ko.png"), full_page=True)

            # the store page opens on the floor plan; colours, kiosk marks and a reconciliation alert
            page.goto(f"{base}/stores/oryudong")
            expect(page.locator("#tab-floor")).to_have_attribute("aria-current", "page")
            cell = page.locator('.floor-cell[data-kiosk-seat-id="A-1-1"]')
            assert "state-occupied" in cell.get_attribute("class") and "kiosk-in_use" in cell.get_attribute("class")
            assert "wall-top" in cell.get_attribute("class") and "wall-left" in cell.get_attribute("class")
            expect(cell).to_contain_text("남은 2시간 0분")
            assert "kiosk-sold" in page.locator('.floor-cell[data-kiosk-seat-id="A-2-1"]').get_attribute("class")
            box11 = cell.bounding_box()
            box12 = page.locator('.floor-cell[data-kiosk-seat-id="A-1-2"]').bounding_box()
            box21 = page.locator('.floor-cell[data-kiosk-seat-id="A-2-1"]').bounding_box()
            assert box12["x"] > box11["x"] + 10 and abs(box12["y"] - box11["y"]) < 2  # same row, next column
            assert box21["y"] > box11["y"] + 10 and abs(box21["x"] - box11["x"]) < 2  # next row, same column
            for name in FAKE_NAMES:
                assert name not in page.content()
            # s1 sits on a free seat: unpaid use, on the plan and in the panel (the alert service ticks every 5 s)
            wait_for(lambda: after_reload(page) and page.locator(
                '.floor-cell.has-alert[data-kiosk-seat-id="A-1-2"]').count() == 1, timeout=20, what="unpaid alert")
            expect(page.locator('#alerts li[data-kind="kiosk_unpaid"]')).to_contain_text("결제 없이 사용 중")
            page.screenshot(path=artifact("kiosk-floor-plan-ko.png"), full_page=True)

            # live, no reload: the guest at A-1-2 buys a ticket -> the kiosk mark turns "in use" and
            # the unpaid-use mark goes away when the alert closes (kiosk and alert over the WebSocket)
            room = fake.components()
            room[1] = chair("A", 1, 2, in_use=True, name=FAKE_NAMES[3], remain="03:00", walls="t")
            fake.set_seats(room)
            a12 = page.locator('.floor-cell[data-kiosk-seat-id="A-1-2"]')
            expect(a12).to_have_attribute("data-kiosk-state", "in_use", timeout=8000)
            expect(a12.locator(".remaining")).to_have_text("남은 3시간 0분")
            expect(a12).to_have_attribute("data-alerts", "", timeout=15000)
            assert "has-alert" not in a12.get_attribute("class")

            # live: the camera sees s0 leave -> the floor cell turns empty without a reload
            edge.delta({"s0": "empty"})
            wait_for(lambda: "state-empty" in (cell.get_attribute("class") or ""), timeout=10, what="live floor cell")
            expect(cell.locator(".state-name")).to_have_text("빈 좌석")
            expect(page.locator('[data-count="empty"]')).to_have_text("2")  # counted from the seat list

            # the per-camera tab and English
            page.click("#tab-camera")
            expect(page.locator(".seat-maps svg").first).to_be_visible()
            page.goto(f"{base}/stores/oryudong?lang=en")
            expect(page.locator("#kiosk-badge")).to_contain_text("Kiosk OK")
            expect(page.locator('.floor-cell[data-kiosk-seat-id="A-1-3"] .kiosk-text')).to_have_text("in use")
            page.screenshot(path=artifact("kiosk-floor-plan-en.png"), full_page=True)

            # the kiosk goes down: the badge says since when, kiosk marks turn "?", camera colours stay
            fake.mode = "down"
            wait_for(lambda: after_reload(page) and page.locator("#kiosk-badge[data-kiosk=unknown]").count() == 1,
                     timeout=15, what="kiosk unknown on the page")
            expect(page.locator("#kiosk-badge")).to_contain_text("Kiosk state unknown since")
            expect(page.locator("#kiosk-badge")).to_contain_text("HTTP 503")
            assert "kiosk-unknown" in cell.get_attribute("class") and "state-empty" in cell.get_attribute("class")
            page.screenshot(path=artifact("kiosk-floor-plan-down-en.png"), full_page=True)
            fake.mode = "ok"

            # a store without a kiosk: the admin places its two seats on a grid by hand
            page.goto(f"{base}/stores/gangnam/kiosk?lang=ko")
            expect(page.locator("body")).to_contain_text("키오스크 연동이 설정되지 않았습니다")
            for cam, row, col in (("s0", "1", "1"), ("s1", "1", "2")):
                page.select_option("#place-form select[name=camera_seat_id]", cam)
                page.fill("#place-form input[name=row]", row)
                page.fill("#place-form input[name=col]", col)
                page.click("#place-form button[type=submit]")
                page.wait_for_load_state()
            page.goto(f"{base}/stores/gangnam")
            expect(page.locator("#kiosk-badge")).to_contain_text("키오스크 연동 없음")
            expect(page.locator(".floor-cell")).to_have_count(2)
            hand = page.locator('.floor-cell[data-seat-id="s0"]')
            assert "state-occupied" in hand.get_attribute("class") and "kiosk-none" in hand.get_attribute("class")
            expect(hand.locator(".resumed-note")).to_have_text("(재시작 전 시간 알 수 없음)")
            expect(page.locator('.floor-cell[data-seat-id="s1"] .resumed-note')).to_have_text("")
            page.screenshot(path=artifact("kiosk-floor-plan-by-hand-ko.png"), full_page=True)
            browser.close()
    finally:
        edge.close()
        plain.close()
        fake.stop()
