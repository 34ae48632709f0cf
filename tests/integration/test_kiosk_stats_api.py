"""Kiosk statistics through the hub (real broker and SQLite): sold vs occupied seat-hours per day,
the top hogged seats, unpaid minutes, reconciliation alerts per day and hour, the cross-store
comparison (API and pages). Camera history comes from a simulated edge's replayed events; the
kiosk's past changes and past alerts are written straight into the database (the kiosk side has
no replay: the hub only learns changes as they happen)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from hub.db.models import Alert, KioskEvent
from hub.db.session import make_engine, make_sessionmaker
from hub.kiosk.settings import GenericSettings
from hub.web.common import SEOUL
from tests.support.waiting import wait_for

H = 3600.0


def test_sold_vs_occupied_per_day_top_hogged_unpaid_and_alert_counts(make_hub, sim, sqlite_url):
    c = make_hub(sqlite_url, kiosk={"gangnam": GenericSettings(secret="x")})
    yesterday = datetime.now(SEOUL).date() - timedelta(days=1)
    d0 = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=SEOUL).timestamp()
    edge = sim(store_id="gangnam", seats=2)
    edge.birth({"s0": "empty", "s1": "empty"}, since=d0 - H)
    # yesterday: s0 occupied 10-12, away 12-13 (bag left), empty after; s1 occupied 15-17
    for at, seat, frm, to in [(10, "s0", "empty", "occupied"), (12, "s0", "occupied", "away"),
                              (13, "s0", "away", "empty"), (15, "s1", "empty", "occupied"),
                              (17, "s1", "occupied", "empty")]:
        edge.event(seat, frm, to, at=d0 + at * H, historical=True)
    wait_for(lambda: len(c.get("/api/v1/stores/gangnam/events").json().get("events", [])) >= 5, what="events")
    r = c.post("/api/v1/stores/gangnam/kiosk/import", content=b"id,section,row,col\nK1,A,1,1\nK2,A,1,2\n",
               headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    page = c.get("/stores/gangnam/kiosk").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/stores/gangnam/kiosk/map", data={"csrf_token": token, "map:s0": "K1", "map:s1": "K2"},
                  follow_redirects=False).status_code == 303

    async def history() -> None:
        engine = make_engine(sqlite_url)
        async with make_sessionmaker(engine)() as db:
            # K1 sold and checked in 9-14 yesterday; K2 never sold (s1 sat there unpaid 15-17)
            db.add_all([KioskEvent(store_id="gangnam", kiosk_seat_id="K1", state="free", at=d0 - 2 * H),
                        KioskEvent(store_id="gangnam", kiosk_seat_id="K2", state="free", at=d0 - 2 * H),
                        KioskEvent(store_id="gangnam", kiosk_seat_id="K1", state="in_use", at=d0 + 9 * H),
                        KioskEvent(store_id="gangnam", kiosk_seat_id="K1", state="free", at=d0 + 14 * H)])
            for kind, at in (("kiosk_hogging", 9.5), ("kiosk_unpaid", 15.2), ("kiosk_unpaid", 16.5)):
                db.add(Alert(store_id="gangnam", seat_id="s0", edge_id="edge-1", kind=kind, priority="high",
                             message="", opened_at=d0 + at * H, closed_at=d0 + at * H + 600, last_sent_at=None,
                             delivered=False, attempts=0, last_error=None, dedupe_key=f"{kind}:gangnam:s0"))
            await db.commit()
        await engine.dispose()

    asyncio.run(history())
    day = yesterday.isoformat()
    j = c.get("/api/v1/stores/gangnam/kiosk/stats", params={"from": day, "to": day}).json()
    [d] = j["days"]
    # sold 9-14 = 5 h; occupied 10-12 + 15-17 = 4 h; used 2 h of the 5 sold (40 %); hogged 9-10 + 12-14 = 3 h;
    # unpaid: s1 15-17 on a free seat = 120 min
    assert (d["day"], d["sold_h"], d["occupied_h"], d["used_sold_h"], d["used_share"], d["hogged_h"],
            d["unpaid_min"]) == (day, 5.0, 4.0, 2.0, 0.4, 3.0, 120.0)
    assert d["alerts"] == {"kiosk_hogging": 1, "kiosk_unpaid": 2}
    assert j["top_hogged"] == [{"seat_id": "s0", "label": "A-0", "hogged_h": 3.0}]
    assert j["alerts_by_hour"][9] == {"kiosk_hogging": 1} and j["alerts_by_hour"][15] == {"kiosk_unpaid": 1}
    assert j["alerts_total"] == {"kiosk_hogging": 1, "kiosk_unpaid": 2}
    cmp = c.get("/api/v1/kiosk/stats", params={"from": day, "to": day}).json()
    assert [(s["store_id"], s["sold_h"], s["unpaid_min"]) for s in cmp] == [("gangnam", 5.0, 120.0)]
    html = c.get(f"/stores/gangnam/kiosk/stats?from={day}&to={day}").text
    assert "판매 vs 실제 이용" in html and f'data-day="{day}"' in html and "40.0%" in html
    assert 'data-store="gangnam"' in html and "A-0: 3.0 h" in html
    assert c.get("/api/v1/stores/gangnam/kiosk/stats", params={"from": "yesterday"}).status_code == 400
    # the history page leads there for the same days
    hist = c.get(f"/stores/gangnam/history?from={day}&to={day}").text
    assert f'href="/stores/gangnam/kiosk/stats?from={day}&amp;to={day}"' in hist
