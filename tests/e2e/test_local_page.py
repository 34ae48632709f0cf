"""The staff fallback page: pure view/session logic, HTTP behaviour, and headless Chromium with
no broker anywhere (the uplink points at a port where nothing listens)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from edge_agent.local_page.passwords import PasswordHashError, hash_password, verify_password
from edge_agent.local_page.server import LocalPage
from edge_agent.local_page.sessions import check_session, safe_next, sign_session
from edge_agent.local_page.views import build_view
from edge_agent.settings import LocalUiSection
from edge_agent.storage.db import EdgeStore
from edge_agent.types import Transition
from edge_agent.uplink import Uplink
from protocol import Evidence, SeatDef, SeatSnapshot, StateRules
from tests.support.browser import artifact
from tests.support.mqtt import make_cfg
from tests.support.services import free_port
from ui.i18n import Translator, format_duration
from ui.messages_edge import MESSAGES

PASSWORD = "desk-lamp-42"
SEATS = [
    SeatDef("A1", 1, [(0.05, 0.1), (0.3, 0.1), (0.3, 0.5), (0.05, 0.5)], label="A-1"),
    SeatDef("A2", 1, [(0.4, 0.1), (0.7, 0.1), (0.7, 0.5), (0.4, 0.5)], label="A-2"),
    SeatDef("B1", 2, [(0.1, 0.5), (0.5, 0.5), (0.5, 0.9), (0.1, 0.9)], label="B-1"),
    SeatDef("B2", 2, [(0.6, 0.5), (0.9, 0.5), (0.9, 0.9), (0.6, 0.9)], label="B-2"),
]


@pytest.fixture(scope="module")
def pw_hash() -> str:
    return hash_password(PASSWORD)


def test_passwords(pw_hash):
    assert verify_password(pw_hash, PASSWORD)
    assert not verify_password(pw_hash, PASSWORD + "x")
    with pytest.raises(PasswordHashError, match="not a valid argon2 hash"):
        verify_password("plain-text", PASSWORD)
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_build_view_joins_layout_and_states():
    v = build_view(SEATS, [SeatSnapshot("A1", "occupied", 100.0), SeatSnapshot("B2", "abandoned", 50.0)], 200.0, 3)
    by = {s.seat_id: s for s in v.seats}
    assert by["A1"].state == "occupied" and by["A1"].since == 100.0
    assert by["A2"].state == "unknown" and by["A2"].since is None  # no stored state is not "empty"
    assert v.counts == {"empty": 0, "occupied": 1, "away": 0, "abandoned": 1, "unknown": 2}
    assert by["A1"].centroid == pytest.approx((0.175, 0.3))
    assert v.config_version == 3


def test_durations_in_both_languages():
    ko, en = Translator(MESSAGES, "ko"), Translator(MESSAGES, "en")
    assert format_duration(42, ko) == "42초" and format_duration(42, en) == "42 s"
    assert format_duration(3 * 60 + 5, ko) == "3분"
    assert format_duration(3600 + 5 * 60, en) == "1 h 5 min"
    assert format_duration(2 * 86400 + 3 * 3600, ko) == "2일 3시간"
    assert format_duration(None, en, unknown=en("dur.none")) == "-"


def test_session_tokens():
    secret = b"s" * 32
    tok = sign_session(secret, "hash1", 1000.0, ttl=60)
    assert check_session(secret, "hash1", tok, 1010.0)
    assert not check_session(secret, "hash1", tok, 1061.0)  # expired
    assert not check_session(secret, "hash2", tok, 1010.0)  # password changed
    assert not check_session(b"x" * 32, "hash1", tok, 1010.0)  # other box
    issued, expires, nonce, sig = tok.split(".")
    assert not check_session(secret, "hash1", f"{issued}.{int(expires) + 9999}.{nonce}.{sig}", 1010.0)
    assert not check_session(secret, "hash1", "garbage", 1010.0)
    assert safe_next("/api/seats") == "/api/seats"
    assert safe_next("//evil.example/") == "/" and safe_next("https://evil.example/") == "/"


@pytest.fixture
def store(tmp_path):
    s = EdgeStore(tmp_path / "edge.db")
    s.set_config(4, SEATS, StateRules())
    s.save_states([SeatSnapshot("A1", "occupied", 0.0), SeatSnapshot("A2", "empty", 0.0),
                   SeatSnapshot("B1", "away", 0.0), SeatSnapshot("B2", "abandoned", 0.0)])
    s.add_event(Transition("B2", "away", "abandoned", 10.0, Evidence(item_count=2)))
    yield s
    s.close()


def _page(store, pw_hash, **kw) -> LocalPage:
    page = LocalPage(LocalUiSection(listen="127.0.0.1", port=0, password_hash=pw_hash), store, **kw)
    page.start()
    return page


def _req(page: LocalPage, method: str, path: str, body: str | None = None, cookie: str | None = None):
    host, port = urllib.parse.urlsplit(page.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def test_default_listen_is_localhost_not_all_interfaces():
    assert LocalUiSection().listen == "127.0.0.1"


def test_http_auth_and_api(store, pw_hash):
    page = _page(store, pw_hash)
    try:
        r, data = _req(page, "GET", "/healthz")
        assert r.status == 200 and b'"ok":true' in data
        r, data = _req(page, "GET", "/api/seats")
        assert r.status == 401 and b"login required" in data
        r, _ = _req(page, "GET", "/")
        assert r.status == 303 and r.getheader("Location").startswith("/login")
        r, data = _req(page, "POST", "/login", "password=wrong-one&next=/")
        assert r.status == 401 and "비밀번호가 틀렸습니다." in data.decode()
        assert r.getheader("Set-Cookie") is None
        r, _ = _req(page, "POST", "/login", urllib.parse.urlencode({"password": PASSWORD, "next": "//evil/"}))
        assert r.status == 303 and r.getheader("Location") == "/"
        set_cookie = r.getheader("Set-Cookie")
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        cookie = set_cookie.split(";")[0]
        r, data = _req(page, "GET", "/api/seats", cookie=cookie)
        assert r.status == 200
        body = json.loads(data)
        assert {s["seat_id"]: s["state"] for s in body["seats"]} == {
            "A1": "occupied", "A2": "empty", "B1": "away", "B2": "abandoned"}
        assert body["config_version"] == 4
        r, data = _req(page, "GET", "/api/events?limit=5", cookie=cookie)
        assert r.status == 200 and json.loads(data)["events"][0]["to_state"] == "abandoned"
        r, data = _req(page, "GET", "/api/events?limit=abc", cookie=cookie)
        assert r.status == 400 and b"limit must be an integer" in data
        r, data = _req(page, "GET", "/static/edge/../../../pyproject.toml", cookie=cookie)
        assert r.status == 404
        # A cookie signed for another password hash does not work after the password changes.
        page.ui = LocalUiSection(listen="127.0.0.1", port=0, password_hash=hash_password("another-pass-1"))
        r, _ = _req(page, "GET", "/api/seats", cookie=cookie)
        assert r.status == 401
    finally:
        page.stop()


def test_login_throttle_after_repeated_failures(store, pw_hash):
    page = _page(store, pw_hash)
    try:
        for _ in range(5):
            r, _ = _req(page, "POST", "/login", "password=nope-nope")
            assert r.status == 401
        r, data = _req(page, "POST", "/login", urllib.parse.urlencode({"password": PASSWORD}))
        assert r.status == 429 and "로그인 시도가 너무 많습니다" in data.decode()
    finally:
        page.stop()


def test_no_password_configured_serves_nothing_but_health(store):
    page = _page(store, None)
    try:
        assert _req(page, "GET", "/healthz")[0].status == 200
        r, data = _req(page, "GET", "/")
        assert r.status == 503 and "seat-edge install" in data.decode()
        assert _req(page, "POST", "/login", "password=anything-at-all")[0].status == 503
    finally:
        page.stop()


def test_page_in_chromium_with_no_broker(store, pw_hash, tmp_path):
    from playwright.sync_api import sync_playwright

    # The agent's uplink is configured, but no broker runs: messages wait in the outbox.
    dead_port = free_port()
    up = Uplink(make_cfg("127.0.0.1", dead_port, "test-nobroker/seat/v1"), store,
                birth_factory=lambda: (4, SEATS, store.load_states(), [], StateRules()), reconnect_delay=(0.2, 1))
    up.start()
    page_srv = _page(store, pw_hash, refresh_s=0.3)
    try:
        up.publish_event(Transition("A2", "empty", "occupied", 20.0, Evidence()))
        assert not up.connected and store.depth() >= 1
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            try:
                pg = browser.new_page()
                pg.goto(page_srv.url)
                assert "/login" in pg.url
                pg.fill("#password", "not-the-password")
                pg.click("#login-submit")
                assert pg.locator("#login-error").inner_text() == "비밀번호가 틀렸습니다."
                pg.fill("#password", PASSWORD)
                pg.click("#login-submit")
                pg.wait_for_selector("#seat-table")
                assert pg.locator("html").get_attribute("lang") == "ko"
                for sid, state, name in [("A1", "occupied", "사용 중"), ("A2", "empty", "빈 좌석"),
                                         ("B1", "away", "자리 비움"), ("B2", "abandoned", "장기 방치")]:
                    g = pg.locator(f'svg g[data-seat-id="{sid}"]')
                    assert f"state-{state}" in g.get_attribute("class")
                    assert pg.locator(f'tr[data-seat-id="{sid}"] .state-name').inner_text() == name
                assert pg.locator("figure.channel").count() == 2  # one SVG per channel
                # the hub's seat map template: a legend that does not rely on colour, pattern layer
                assert pg.locator(".seat-legend li").count() == 5
                assert pg.locator('g[data-seat-id="B2"] polygon.pat').count() == 1
                assert pg.locator('g[data-seat-id="B2"] .icon').text_content() == "⚠"
                assert pg.locator("#count-occupied").inner_text() == "1"
                # The seat changes in SQLite; the page's polling shows it without a reload.
                store.save_states([SeatSnapshot("A2", "occupied", 20.0)])
                pg.wait_for_selector('svg g[data-seat-id="A2"].state-occupied', timeout=5000)
                assert pg.locator('tr[data-seat-id="A2"] .state-name').inner_text() == "사용 중"
                assert pg.locator("#count-occupied").inner_text() == "2"
                # English on request, remembered by a cookie.
                pg.goto(page_srv.url + "?lang=en")
                assert pg.locator('tr[data-seat-id="B2"] .state-name').inner_text() == "Abandoned"
                pg.goto(page_srv.url)
                assert pg.locator('tr[data-seat-id="B1"] .state-name').inner_text() == "Away"
                pg.screenshot(path=artifact("edge-fallback-page.png"), full_page=True)
            finally:
                browser.close()
        assert not up.connected  # the broker never existed during all of this
    finally:
        page_srv.stop()
        up.stop(0.5)
