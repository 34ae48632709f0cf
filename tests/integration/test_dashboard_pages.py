"""Dashboard pages without a browser: server-rendered HTML (they must work without JS), the
overview's sorting, the history numbers, the ROI check endpoint, and the pure view helpers.
Real broker and SQLite through the hub fixtures; the browser tests are in test_dashboard_browser.py."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from litestar.exceptions import HTTPException

from hub.settings import AlertSettings
from hub.web.history import MAX_DAYS, parse_range
from hub.web.pages import Tile, sort_tiles
from protocol import ChannelHealth, Health
from tests.support.hub_auth import create_user, login
from tests.support.waiting import wait_for
from ui import seatmap
from ui.i18n import Translator
from ui.messages_edge import MESSAGES as EDGE
from ui.messages_hub import MESSAGES as HUB


def _tile(sid: str, rate: float | None, abandoned: int = 0, offline: int = 0, since: float | None = None) -> Tile:
    return Tile(sid, sid.upper(), 10, 0, abandoned, 0, rate, 1, offline, None, since)


def test_sort_tiles_every_order_is_stable_by_name():
    tiles = [_tile("c", 0.2, abandoned=2), _tile("a", None, offline=1, since=200.0), _tile("b", 0.9),
             _tile("d", 0.5, offline=1, since=100.0)]
    ids = lambda xs: [x.store_id for x in xs]  # noqa: E731
    assert ids(sort_tiles(tiles, "name")) == ["a", "b", "c", "d"]
    assert ids(sort_tiles(tiles, "occupancy")) == ["b", "d", "c", "a"]  # unknown rate last
    assert ids(sort_tiles(tiles, "abandoned")) == ["c", "a", "b", "d"]
    assert ids(sort_tiles(tiles, "offline")) == ["d", "a", "b", "c"]  # longest outage first


def test_parse_range_defaults_and_errors():
    today = date(2026, 3, 10)
    assert parse_range(None, None, today) == (date(2026, 3, 4), today)
    with pytest.raises(HTTPException, match="before"):
        parse_range("2026-03-10", "2026-03-01", today)
    with pytest.raises(HTTPException, match=f"at most {MAX_DAYS} days"):
        parse_range("2026-01-01", "2026-03-01", today)
    with pytest.raises(HTTPException, match="YYYY-MM-DD"):
        parse_range("yesterday", None, today)


def test_seat_cells_timer_icon_and_both_catalogues_complete():
    t = Translator(HUB, "ko")
    cells = seatmap.seat_cells([seatmap.SeatInput("x", "X-1", 2, "away", 1000.0, [(0, 0), (0.5, 0), (0.5, 0.5)]),
                                seatmap.SeatInput("y", "", 1, "bogus", None, [(0, 0), (0.1, 0), (0.1, 0.1)])],
                               1000.0 + 125, t)
    assert list(cells) == [1, 2]
    x = cells[2][0]
    assert x.timer == "비운 지 2분" and x.icon == "◐" and x.state_name == "자리 비움"
    assert seatmap.timer_text("empty", float("-inf"), 1000.0, t) == ""  # a time that is no date
    y = cells[1][0]
    assert y.state == "unknown" and y.timer == "" and y.label == "y"  # no label: the id
    assert Translator(HUB, "en")("timer.occupied", d="3 min") == "occupied 3 min"
    # every key the shared template and scripts use exists in both tiers, in both languages
    for key in seatmap.MESSAGES:
        for cat in (HUB, EDGE):
            assert cat[key]["ko"] and cat[key]["en"], key
    for key, entry in HUB.items():
        assert entry.get("ko") and entry.get("en"), f"{key} lacks a language"


def _ready(client, sim, **kw):
    edge = sim(**kw)
    edge.birth({"s0": "occupied", "s1": "empty", "s2": "abandoned"}, since=time.time() - 125)
    store = kw.get("store_id", "store-a")
    wait_for(lambda: client.get(f"/api/v1/stores/{store}/seats").status_code == 200
             and len(client.get(f"/api/v1/stores/{store}/seats").json()) == 3, what="birth")
    return edge


def test_overview_tiles_and_sort_server_rendered(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    _ready(client, sim)
    down = _ready(client, sim, store_id="store-b", edge_id="edge-9")
    down.death()
    wait_for(lambda: client.get("/api/v1/stores/store-b").json()["edges"][0]["online"] is False, what="death")
    html = client.get("/").text
    a = html[html.index('data-store-id="store-a"'):html.index('data-store-id="store-b"')]
    assert re.search(r'class="occupied">2</b> / <span class="total">3', a)  # occupied + abandoned hold seats
    assert "장기 방치 1석" in a and "장비 정상" in a and "마지막 수신" in a
    b = html[html.index('data-store-id="store-b"'):]
    assert "장비 1/1대 끊김" in b and "점유율 알 수 없음" in b  # all seats unknown: no rate, not 0 %
    assert 'id="compare-chart"' in html and "/static/vendor/echarts-5.6.0.min.js" in html
    html = client.get("/?sort=offline").text
    assert html.index('data-store-id="store-b"') < html.index('data-store-id="store-a"')
    assert client.get("/?sort=nonsense").status_code == 200  # unknown sort: by name
    r = client.get("/stores?store=store-b", follow_redirects=False)
    assert r.status_code in (301, 302, 303, 307) and r.headers["location"] == "/stores/store-b"
    vendor = client.get("/static/vendor/echarts-5.6.0.min.js")
    assert vendor.status_code == 200 and len(vendor.content) > 500_000


def test_store_page_map_legend_and_alert_rules(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url, alerts=AlertSettings(abandoned_alert_s=60))
    _ready(client, sim)
    wait_for(lambda: client.get("/api/v1/alerts?open=true").json(), timeout=20, what="the abandoned alert")
    html = client.get("/stores/store-a").text
    assert html.count('<polygon class="pat"') == 3  # the pattern layer: not colour alone
    assert 'data-legend="abandoned"' in html and "카메라가 보지 못함" in html
    assert "사용 2분째" in html and "방치 2분" in html  # server-rendered timers
    assert 'id="alerts-rules"' in html and "장기 방치 1분 뒤" in html
    assert "좌석 A-2: 짐만 있고 사람 없음" in html
    assert 'href="/stores/store-a/history"' in html and 'href="/stores/store-a/roi"' in html
    assert 'data-config="none"' in html  # no layout pushed from the hub yet
    en = client.get("/stores/store-a?lang=en").text
    assert "occupied 2 min" in en and "free to take" in en
    assert "Seat A-2: belongings, nobody there" in en  # the alert in the page's language


def test_history_page_numbers_and_bad_input(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    edge = _ready(client, sim)
    now = time.time()
    edge.event("s1", "empty", "occupied", at=now - 3 * 3600, historical=True)
    edge.event("s1", "occupied", "empty", at=now - 2 * 3600, historical=True)
    wait_for(lambda: len(client.get("/api/v1/stores/store-a/events").json()["events"]) == 2, what="events")
    html = client.get("/stores/store-a/history").text
    assert 'data-chart="heatmap"' in html and 'id="per-day"' in html and 'id="per-seat"' in html
    assert html.count("<tr data-seat-id=") == 3
    assert re.search(r"<td>60\.0</td>", html)  # s1's one-hour stay, in minutes, from hub.stats.compute
    one = client.get("/stores/store-a/history?seat=s1").text
    assert "좌석 A-1" in one and 'id="per-seat"' not in one
    assert client.get("/stores/store-a/history?seat=nope").status_code == 400
    assert client.get("/stores/store-a/history?from=2026-01-01&to=2025-01-01").status_code == 400
    assert client.get("/stores/nope/history").status_code == 404


def test_roi_page_and_check_use_the_shared_layout_rules(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    _ready(client, sim)
    html = client.get("/stores/store-a/roi?channel=2").text
    assert 'id="roi-svg"' in html and "16:9" in html and 'data-seat-id="s1"' in html
    assert 'data-seat-id="s0"' not in html.split('id="roi-seats"')[1].split("</g>\n      <g id")[0]
    ok = [{"seat_id": "n1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}]
    r = client.post("/stores/store-a/roi/check", json={"edge_id": "edge-1", "seats": ok})
    assert r.status_code == 200 and r.json() == {"ok": True, "problems": []}
    bad = [{"seat_id": "n1", "channel": 7, "polygon": [[0.1, 0.1], [0.3, 0.3], [0.3, 0.1], [0.1, 0.3]]},
           {"seat_id": "n1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1]]}]
    body = client.post("/stores/store-a/roi/check", json={"edge_id": "edge-1", "seats": bad}).json()
    assert body["ok"] is False
    text = " | ".join(body["problems"])
    assert "cross" in text and "channel 7 is not configured" in text and "duplicate seat id" in text
    assert "at least 3 points" in text
    assert client.get("/stores/nope/roi").status_code == 404


def test_store_page_and_overview_say_a_camera_moved(sqlite_url, make_hub, sim):
    """Issue 17: a channel whose picture drifted from the desk references beyond the edge's
    tolerance reads "camera moved: redraw the seats or re-take the reference" on the store page
    (channel list and alerts panel) and on the HQ overview's tile; Korean by default."""
    client = make_hub(sqlite_url)
    edge = _ready(client, sim)
    edge.send(Health(**edge.base(), channels=[ChannelHealth(1, True, fps=2.0, drift=0.004),
                                               ChannelHealth(2, True, fps=2.0, drift=0.061, camera_moved=True)]))
    ko_text = "카메라가 움직였습니다: 좌석을 다시 그리거나 기준 화면을 다시 찍으세요"
    wait_for(lambda: 'data-camera-moved="2"' in client.get("/stores/store-a").text, what="camera moved shown")
    html = client.get("/stores/store-a").text
    assert re.findall(r'data-camera-moved="([^"]+)"', html) == ["2"]  # channel 1 drifted within tolerance
    assert ko_text in html and 'data-kind="camera_moved"' in html and "채널 2 window: " + ko_text in html
    en = client.get("/stores/store-a?lang=en").text
    assert "camera moved: redraw the seats or re-take the reference" in en and ko_text not in en
    home = client.get("/?lang=ko").text  # (?lang= is remembered in a cookie)
    assert 'data-camera-moved="2"' in home and f"채널 2: {ko_text}" in home
    assert "Channel 2: camera moved: redraw the seats or re-take the reference" in client.get("/?lang=en").text
    # the reference re-taken (no drift reported any more): the warning goes
    edge.send(Health(**edge.base(), channels=[ChannelHealth(1, True, fps=2.0), ChannelHealth(2, True, fps=2.0)]))
    wait_for(lambda: "data-camera-moved" not in client.get("/stores/store-a").text, what="warning gone")
    assert "data-camera-moved" not in client.get("/").text


def test_staff_see_only_their_store_and_viewers_cannot_edit(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)  # an admin, to wait for the births
    _ready(client, sim)
    _ready(client, sim, store_id="store-b", edge_id="edge-9")
    create_user(sqlite_url, "bob", "staff", ["store-b"])
    create_user(sqlite_url, "vera", "hq_viewer")
    client.cookies.clear()
    login(client, "bob")
    home = client.get("/").text
    assert re.findall(r'data-store-id="([^"]+)"', home) == ["store-b"]
    assert 'value="store-a"' not in home and 'value="store-b"' in home  # the store picker too
    assert "bob" in home and 'id="logout-submit"' in home
    for path in ("/stores/store-a", "/stores/store-a/history", "/stores/store-a/roi"):
        assert client.get(path).status_code == 403, path
    page = client.get("/stores/store-b/roi").text
    assert 'id="roi-readonly"' in page  # staff may look, not change
    client.cookies.clear()
    login(client, "vera")
    home = client.get("/").text
    assert re.findall(r'data-store-id="([^"]+)"', home) == ["store-a", "store-b"]
    assert 'id="roi-readonly"' in client.get("/stores/store-a/roi").text
    r = client.post("/stores/store-a/roi/check", json={"edge_id": "edge-1", "seats": []})
    assert r.status_code == 403


def test_store_page_shows_a_camera_channel_down(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    edge = _ready(client, sim)
    edge.send(Health(**edge.base(), channels=[ChannelHealth(1, True, fps=2.0),
                                               ChannelHealth(2, False, last_error="rtsp timeout")]))
    wait_for(lambda: 'data-kind="channel_down"' in client.get("/stores/store-a").text, what="channel down")
    html = client.get("/stores/store-a").text
    # from the channel health right away (with the camera's name from the birth), or the alert
    # service's own alert once its loop has run
    assert "채널 2 window 카메라 끊김 (edge-1)" in html or "매장 장비 edge-1의 카메라 채널 끊김" in html
    en = client.get("/stores/store-a?lang=en").text
    assert "Camera channel 2 window down" in en or "A camera channel of edge-1 is down" in en
