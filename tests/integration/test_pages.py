"""Dashboard pages (server-rendered, Korean by default) and the live WebSocket."""

from __future__ import annotations

import time

from tests.support.waiting import wait_for


def _ready(client, sim):
    edge = sim()
    edge.birth({"s0": "occupied", "s1": "empty", "s2": "abandoned"}, since=time.time() - 125)
    wait_for(lambda: client.get("/api/v1/stores/store-a/seats").status_code == 200
             and len(client.get("/api/v1/stores/store-a/seats").json()) == 3, what="birth")
    return edge


def test_pages_render_korean_by_default_and_english_on_request(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    _ready(client, sim)
    index = client.get("/")
    assert index.status_code == 200 and "전체 매장 현황" in index.text and 'href="/stores/store-a"' in index.text
    page = client.get("/stores/store-a")
    assert page.status_code == 200
    html = page.text
    assert "사용 중" in html and "빈 좌석" in html and "장기 방치" in html
    assert "2분" in html  # how long in the state, server-rendered
    assert html.count("<polygon class=\"fill\"") == 3 and 'data-seat-id="s0"' in html and "/static/hub/live.js" in html
    en = client.get("/stores/store-a?lang=en")
    assert "Occupied" in en.text and "Abandoned" in en.text and "2 min" in en.text
    assert "lang=en" in en.headers.get("set-cookie", "")
    assert "Occupied" in client.get("/stores/store-a").text  # the cookie remembers
    assert "사용 중" in client.get("/stores/store-a?lang=ko").text
    assert client.get("/stores/nope").status_code == 404
    js = client.get("/static/hub/live.js")
    assert js.status_code == 200 and "WebSocket" in js.text


def test_websocket_receives_live_updates(sqlite_url, make_hub, sim):
    client = make_hub(sqlite_url)
    edge = _ready(client, sim)
    with client.websocket_connect("/ws/stores/store-a") as ws:
        assert ws.receive_json(timeout=5) == {"type": "hello", "store_id": "store-a"}
        since = time.time()
        edge.delta({"s1": "occupied"}, since=since)
        msg = ws.receive_json(timeout=10)
        assert msg["type"] == "update" and msg["store_id"] == "store-a"
        assert msg["seats"] == [{"seat_id": "s1", "state": "occupied", "since": since}]
        edge.death()
        msg = ws.receive_json(timeout=10)
        assert {s["state"] for s in msg["seats"]} == {"unknown"} and len(msg["seats"]) == 3
        assert msg["edges"][0]["online"] is False
