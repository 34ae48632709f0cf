"""The whole hub over real HTTP (uvicorn) with a real broker, a simulated edge for the camera side
and the fake GoSca for the kiosk side: mapping through the seat-link form, reconciliation alerts
(API, store page floor plan), kiosk outage while ingest and pages keep working, recovery,
/metrics; the generic adapter's CSV import and signed webhook (signature, clock, replay); and
the database grep for customer names afterwards."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.kiosk import generic
from hub.kiosk.fake_gosca import FAKE_NAMES, FakeGoSca, chair
from hub.kiosk.settings import GenericSettings, GoScaSettings, KioskRules
from tests.support.browser import serve_app
from tests.support.hub_auth import create_user, login
from tests.support.hub_harness import SimEdge, hub_settings
from tests.support.services import free_port
from tests.support.waiting import wait_for

FAST = KioskRules(hogging_min=0.02, unpaid_min=0.02, checkout_items_min=0.02)  # ~1 s each
SECRET = "webhook-secret-for-tests"


@pytest.fixture
def fake():
    f = FakeGoSca(store_code="oryu-sca", seats=[
        chair("A", 1, 1, in_use=True, name=FAKE_NAMES[0], remain="02:00", walls="tl"),  # camera: empty -> no-show
        chair("A", 1, 2, name="", walls="t"),  # free; camera: occupied -> unpaid use
        chair("A", 1, 3, in_use=True, name=FAKE_NAMES[1], remain="01:00", walls="tr"),  # agrees with the camera
        chair("A", 2, 1, name=FAKE_NAMES[2], product="고정석", remain="100:00"),  # sold, unmapped
    ]).start()
    yield f
    f.stop()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_kiosk_link_end_to_end(broker, fake, tmp_path):
    db_path = tmp_path / "hub.sqlite"
    url = f"sqlite+aiosqlite:///{db_path}"
    settings = hub_settings(broker, url, kiosk={
        "oryudong": GoScaSettings(base_url=fake.url, store_code="oryu-sca", interval_s=1.0, timeout_s=0.5,
                                  max_backoff_s=2.0, rules=FAST),
        "gangnam": GenericSettings(secret=SECRET, stale_s=60, rules=FAST),
    })
    app = create_app(settings, migrate=True)
    edge = SimEdge(broker, store_id="oryudong", seats=3)
    try:
        with serve_app(app, free_port()) as base, httpx.Client(base_url=base, timeout=10) as c:
            wait_for(lambda: app.state.mqtt is not None and app.state.mqtt.subscribed.is_set(), what="MQTT")
            create_user(url, "boss", "admin")
            login(c, "boss")
            edge.birth({"s0": "empty", "s1": "occupied", "s2": "occupied"}, since=time.time() - 600)
            wait_for(lambda: len(c.get("/api/v1/stores/oryudong/seats").json()) == 3, what="camera seats")
            wait_for(lambda: len(c.get("/api/v1/stores/oryudong/kiosk").json()["seats"]) == 4, what="kiosk poll")

            # the seat-link page lists both sides unmapped, then the form maps three seats
            page = c.get("/stores/oryudong/kiosk")
            assert page.status_code == 200 and "A-1-1" in page.text and 'id="unmapped-cams"' in page.text
            r = c.post("/stores/oryudong/kiosk/map", data={
                "csrf_token": _csrf(page.text), "map:s0": "A-1-1", "map:s1": "A-1-2", "map:s2": "A-1-3"},
                follow_redirects=False)
            assert r.status_code == 303, r.text
            page = c.get("/stores/oryudong/kiosk").text
            unmapped_kiosk = re.search(r'id="unmapped-kiosk">(.*?)</ul>', page, re.S).group(1)
            assert "A-2-1" in unmapped_kiosk and "A-1-1" not in unmapped_kiosk
            # the ROI editor has the same mapping for its channel's polygons, and comes back to itself
            roi = c.get("/stores/oryudong/roi", params={"channel": 2}).text
            panel = re.search(r'<section class="panel" id="roi-kiosk">.*?</section>', roi, re.S).group(0)
            assert 'name="map:s1"' in panel and 'name="map:s0"' not in panel  # s1 is on channel 2
            assert re.search(r'<option value="A-1-2"\s+selected>', panel) and "A-2-1" in panel
            r = c.post("/stores/oryudong/kiosk/map", data={"csrf_token": _csrf(roi), "map:s1": "A-1-2",
                                                          "next": "/stores/oryudong/roi?channel=2"},
                       follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/stores/oryudong/roi?channel=2"
            r = c.post("/stores/oryudong/kiosk/map", data={"csrf_token": _csrf(roi), "map:s1": "A-1-2",
                                                          "next": "https://evil.example/"}, follow_redirects=False)
            assert r.headers["location"] == "/stores/oryudong/kiosk"  # never a redirect off the hub
            # mapping one kiosk seat twice is refused with a message, nothing half-saved
            r = c.post("/stores/oryudong/kiosk/map", data={"csrf_token": _csrf(page), "map:s0": "A-1-1",
                                                          "map:s1": "A-1-1", "map:s2": ""})
            assert "A-1-1" in r.text and 'id="kiosk-error"' in r.text
            assert c.get("/api/v1/stores/oryudong/kiosk").json()["seats"][1]["camera_seat_id"] == "s1"

            # reconciliation alerts: no-show on s0, unpaid use on s1, nothing on s2
            def kiosk_alerts():
                rows = c.get("/api/v1/alerts", params={"store_id": "oryudong", "open": "true"}).json()
                return {(a["kind"], a["seat_id"]) for a in rows if a["kind"].startswith("kiosk_")}
            assert wait_for(lambda: kiosk_alerts() == {("kiosk_hogging", "s0"), ("kiosk_unpaid", "s1")},
                            timeout=20, what="reconciliation alerts")
            store = c.get("/stores/oryudong").text
            assert 'id="floor-plan"' in store and 'data-kiosk-seat-id="A-1-1"' in store
            cell = re.search(r'<div class="floor-cell[^"]*"[^>]*data-kiosk-seat-id="A-1-2".*?</div>\s*</div>|'
                             r'<div class="floor-cell[^"]*"[^>]*data-kiosk-seat-id="A-1-2"[^>]*>', store, re.S).group(0)
            assert "has-alert" in cell and "state-occupied" in cell and "kiosk-free" in cell
            assert "kiosk_unpaid" in store and 'data-kind="kiosk_hogging"' in store  # floor mark + alerts panel
            assert "?view=camera" in store and 'class="seat-maps"' in c.get("/stores/oryudong?view=camera").text
            metrics = c.get("/metrics").text
            assert 'seat_hub_kiosk_up{store="oryudong"} 1.0' in metrics
            assert 'seat_hub_kiosk_polls_total{result="ok",store="oryudong"}' in metrics

            # the kiosk hangs: ingest, pages and the API carry on; the kiosk state turns unknown
            fake.mode, fake.slow_s = "slow", 5.0
            edge.delta({"s2": "away"})
            t0 = time.monotonic()
            wait_for(lambda: {s["seat_id"]: s["state"] for s in c.get("/api/v1/stores/oryudong/seats").json()}["s2"]
                     == "away", timeout=5, what="ingest while the kiosk hangs")
            assert time.monotonic() - t0 < 3
            fake.mode = "down"
            k = wait_for(lambda: (lambda j: j if not j["known"] else None)(c.get("/api/v1/stores/oryudong/kiosk").json()),
                         timeout=15, what="kiosk unknown")
            assert k["unknown_since"] is not None and k["failures"] >= 1
            t0 = time.monotonic()
            store = c.get("/stores/oryudong").text
            assert time.monotonic() - t0 < 2
            assert 'data-kiosk="unknown"' in store and "키오스크 상태 알 수 없음" in store
            assert "kiosk-unknown" in store
            wait_for(lambda: kiosk_alerts() == set(), timeout=15, what="no reconciliation on an unknown kiosk")
            assert 'seat_hub_kiosk_up{store="oryudong"} 0.0' in c.get("/metrics").text
            overview = c.get("/").text  # HQ sees it on the store's tile
            tile = re.search(r'data-store-id="oryudong".*?</a>', overview, re.S).group(0)
            assert 'data-kiosk="unknown"' in tile and "키오스크 상태 알 수 없음" in tile

            # recovery
            fake.mode = "ok"
            wait_for(lambda: c.get("/api/v1/stores/oryudong/kiosk").json()["known"], timeout=15, what="recovery")
            assert 'data-kiosk="ok"' in c.get("/").text

            # the generic adapter: CSV import through the API, then the signed webhook
            csv_body = "id,section,row,col,state,name\nG-1,A,1,1,free,홍길동\nG-2,A,1,2,in_use,홍길동\n"
            r = c.post("/api/v1/stores/gangnam/kiosk/import", content=csv_body.encode(),
                       headers={"Content-Type": "text/csv"})
            assert r.status_code == 200 and r.json()["added"] == ["G-1", "G-2"], r.text
            anon = httpx.Client(base_url=base, timeout=10)  # a vendor: no login, only the signature

            def hook(payload: dict, ts: float | None = None, secret: str = SECRET, sig: str | None = None):
                b = json.dumps(payload, ensure_ascii=False).encode()
                t = str(int(ts if ts is not None else time.time()))
                return anon.post("/api/v1/stores/gangnam/kiosk/webhook", content=b, headers={
                    "Content-Type": "application/json", "X-Seat-Timestamp": t,
                    "X-Seat-Signature": sig or generic.sign(secret, t, b)})

            body = {"seats": [{"id": "G-1", "state": "in_use", "remaining_min": 30, "name": "홍길동"},
                              {"id": "nope", "state": "free"}]}
            r = hook(body)
            assert r.status_code == 200 and r.json()["changed"] == 1 and "nope" in r.json()["problems"][0], r.text
            seats = {s["kiosk_seat_id"]: s for s in c.get("/api/v1/stores/gangnam/kiosk").json()["seats"]}
            assert seats["G-1"]["state"] == "in_use" and seats["G-1"]["remaining_s"] == 1800
            assert hook(body, secret="guess").status_code == 401
            assert hook(body, ts=time.time() - 3600).status_code == 401
            b = json.dumps({**body, "batch": 2}, ensure_ascii=False).encode()  # a new call (same second is fine)
            t = str(int(time.time()))
            signed = {"Content-Type": "application/json", "X-Seat-Timestamp": t,
                      "X-Seat-Signature": generic.sign(SECRET, t, b)}
            assert anon.post("/api/v1/stores/gangnam/kiosk/webhook", content=b, headers=signed).status_code == 200
            replay = anon.post("/api/v1/stores/gangnam/kiosk/webhook", content=b, headers=signed)
            assert replay.status_code == 409 and "replay" in replay.json()["detail"]
            assert anon.post("/api/v1/stores/oryudong/kiosk/webhook", content=b, headers=signed).status_code == 404
            # garbage with a good signature: refused with the reason, the stored states untouched
            junk = b"<xml>seats</xml>"
            r = anon.post("/api/v1/stores/gangnam/kiosk/webhook", content=junk, headers={
                "X-Seat-Timestamp": t, "X-Seat-Signature": generic.sign(SECRET, t, junk)})
            assert r.status_code == 400 and "not JSON" in r.json()["detail"]
            assert {s["kiosk_seat_id"]: s["state"] for s in c.get("/api/v1/stores/gangnam/kiosk").json()["seats"]} == {
                "G-1": "in_use", "G-2": "in_use"}
            # the import API is for admins with a session (CSRF), not for the anonymous vendor
            assert anon.post("/api/v1/stores/gangnam/kiosk/import", content=csv_body.encode()).status_code == 401
            anon.close()
    finally:
        edge.close()
    raw = b"".join(p.read_bytes() for p in Path(db_path).parent.glob(db_path.name + "*"))
    assert b"G-1" in raw and b"A-1-1" in raw
    for name in (*FAKE_NAMES, "홍길동"):
        assert name.encode() not in raw, name
