"""Statistics/alerts API and page against real PostgreSQL, through the hub app (no MQTT)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from hub.app import create_app
from hub.db.models import Alert, Seat, SeatEvent, SeatStateRow, Store
from hub.db.session import make_engine, make_sessionmaker
from hub.settings import DatabaseSettings, HubSettings
from hub.stats.compute import SeatTimeline, compute_store_stats
from hub.stats.rollup_db import rebuild_store
from tests.support.hub_auth import acreate_user, alogin

KST = ZoneInfo("Asia/Seoul")
M, H = 60.0, 3600.0


def kst(day: int, hour: int, minute: int = 0, month: int = 3) -> float:
    return datetime(2024, month, day, hour, minute, tzinfo=KST).timestamp()


# The hand-made day, 2024-03-01 KST. Rows are (seat, at, to_state), inserted in this order.
EVENTS = [
    ("A", kst(29, 23, month=2), "occupied"),  # before the window: A starts the day occupied
    ("A", kst(1, 0, 30), "empty"),
    ("A", kst(1, 5), "sleeping"),  # a state name nobody knows: left out, counted, logged
    ("A", kst(1, 9), "occupied"),
    ("A", kst(1, 11, 30), "away"),
    ("A", kst(1, 11, 40), "abandoned"),
    ("A", kst(1, 12, 10), "empty"),
    ("B", kst(1, 10), "occupied"),
    ("B", kst(1, 10, 45), "unknown"),  # the edge went offline
    ("B", kst(1, 12), "occupied"),  # back
    ("B", kst(1, 13), "empty"),
    ("A", kst(2, 0, 5), "occupied"),  # after the window: ignored
    # replayed after the outage: inserted last, but they happened at 10:20 and 10:30
    ("B", kst(1, 10, 20), "away"),
    ("B", kst(1, 10, 30), "occupied"),
]

# What the pure computation is given for the same day (the stored truth, in capture-time order).
TIMELINES = {
    "A": SeatTimeline(
        "occupied",
        [
            (kst(1, 0, 30), "empty"),
            (kst(1, 9), "occupied"),
            (kst(1, 11, 30), "away"),
            (kst(1, 11, 40), "abandoned"),
            (kst(1, 12, 10), "empty"),
        ],
        initial_since=kst(29, 23, month=2),
    ),
    "B": SeatTimeline(
        None,
        [
            (kst(1, 10), "occupied"),
            (kst(1, 10, 20), "away"),
            (kst(1, 10, 30), "occupied"),
            (kst(1, 10, 45), "unknown"),
            (kst(1, 12), "occupied"),
            (kst(1, 13), "empty"),
        ],
    ),
}


@pytest.fixture
async def client(pg_url):
    app = create_app(HubSettings(database=DatabaseSettings(url=pg_url)), start_mqtt=False, migrate=True)
    async with AsyncTestClient(app) as c:  # its lifespan runs the migrations
        # seed through an engine of this test's own: the app's pool lives on the client's loop
        engine = make_engine(pg_url)
        async with make_sessionmaker(engine)() as s:
            s.add(Store(id="s1", name="강남점", created_at=0.0))
            s.add(Store(id="s2", name="빈 매장", created_at=0.0))
            for sid in ("A", "B"):
                s.add(
                    Seat(
                        store_id="s1",
                        seat_id=sid,
                        edge_id="e1",
                        channel=1,
                        label=sid,
                        polygon=[[0, 0], [1, 0], [1, 1]],
                    )
                )
            prev: dict[str, str] = {}
            for seq, (sid, at, state) in enumerate(EVENTS, 1):
                s.add(
                    SeatEvent(
                        store_id="s1",
                        seat_id=sid,
                        edge_id="e1",
                        boot_id="b1",
                        seq=seq,
                        from_state=prev.get(sid, "unknown"),
                        to_state=state,
                        at=at,
                        evidence={},
                        historical=seq > 11,
                        received_at=kst(2, 1) + seq,
                    )
                )
                prev[sid] = state
            s.add(
                Alert(
                    store_id="s1",
                    seat_id="A",
                    edge_id="e1",
                    kind="seat_abandoned",
                    priority="high",
                    message="열린 알림",
                    opened_at=kst(1, 11, 50),
                    closed_at=None,
                    last_sent_at=None,
                    delivered=False,
                    attempts=0,
                    dedupe_key="seat_abandoned:s1:A",
                )
            )
            s.add(
                Alert(
                    store_id="s1",
                    seat_id=None,
                    edge_id="e1",
                    kind="edge_offline",
                    priority="critical",
                    message="닫힌 알림",
                    opened_at=kst(1, 10, 45),
                    closed_at=kst(1, 12),
                    last_sent_at=kst(1, 10, 45),
                    delivered=True,
                    attempts=1,
                    dedupe_key="edge_offline:s1:e1",
                )
            )
            # The app's own AlertService runs meanwhile: keep the open alert's condition true (A is
            # abandoned now) so it neither closes nor duplicates the seeded row.
            s.add(
                SeatStateRow(
                    store_id="s1",
                    seat_id="A",
                    state="abandoned",
                    since=kst(1, 11, 40),
                    observed_at=kst(1, 11, 40),
                    updated_at=kst(1, 11, 40),
                    edge_id="e1",
                )
            )
            await s.flush()
            # seeded straight into seat_events: roll them up as the ingest writer does for what it stores
            await rebuild_store(s, "s1")
            await s.commit()
        await engine.dispose()
        await acreate_user(pg_url, "admin", "admin")
        await alogin(c, "admin")
        yield c


DAY = {"from": "2024-03-01T00:00:00", "to": "2024-03-02T00:00:00"}


async def test_hourly_stats_match_the_pure_computation_and_hand_numbers(client):
    r = await client.get("/api/v1/stores/s1/stats", params={**DAY, "bucket": "hour"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["bucket"], body["tz"]) == (
        kst(1, 0),
        kst(2, 0),
        "hour",
        "Asia/Seoul",
    )
    assert body["skipped_events"] == 1
    expected = compute_store_stats(TIMELINES, kst(1, 0), kst(2, 0), "hour")
    assert len(body["buckets"]) == 24 and len(body["seats"]) == 48
    for got, want in zip(body["buckets"], expected.buckets):
        for f in (
            "start",
            "end",
            "occupied_s",
            "empty_s",
            "away_s",
            "abandoned_s",
            "unknown_s",
            "occupancy_rate",
            "entries",
            "stays",
            "avg_stay_s",
            "abandoned_incidents",
            "seats",
        ):
            assert got[f] == getattr(want, f), (f, got["start_local"])
    for got, want in zip(body["seats"], expected.seats):
        assert (got["seat_id"], got["occupied_s"], got["unknown_s"], got["stays"]) == (
            want.seat_id,
            want.occupied_s,
            want.unknown_s,
            want.stays,
        )
    h = {b["start_local"][11:13]: b for b in body["buckets"]}
    # 00h: A occupied 30 min then empty; B never seen yet -> unknown, left out of the rate
    assert (h["00"]["occupied_s"], h["00"]["empty_s"], h["00"]["unknown_s"]) == (30 * M, 30 * M, H)
    assert h["00"]["occupancy_rate"] == 0.5
    # A's overnight stay (23:00 -> 00:30) ends here: 90 min
    assert (h["00"]["stays"], h["00"]["avg_stay_s"]) == (1, 90 * M)
    # 10h: A occupied all hour; B occupied 20 + 15 min, away 10 (replayed events), unknown 15
    assert (h["10"]["occupied_s"], h["10"]["away_s"], h["10"]["unknown_s"]) == (H + 35 * M, 10 * M, 15 * M)
    # B's return from away at 10:30 is not a new entry; its visit ends at 10:45 (edge offline): 45 min
    assert h["10"]["entries"] == 1 and h["10"]["stays"] == 1 and h["10"]["avg_stay_s"] == 45 * M
    # 11h: A occupied 30, away 10, abandoned 20; B unknown all hour
    assert (h["11"]["occupied_s"], h["11"]["away_s"], h["11"]["abandoned_s"], h["11"]["unknown_s"]) == (
        30 * M,
        10 * M,
        20 * M,
        H,
    )
    assert h["11"]["abandoned_incidents"] == 1
    assert h["11"]["occupancy_rate"] == pytest.approx(40 / 60)
    (day,) = body["days"]
    # stays: A 00:30 and 12:10 (09:00 -> 12:10 with its away and abandoned time: 190 min);
    # B 10:45 (to unknown) and 13:00 -> 4 stays over 2 seats
    assert (h["12"]["stays"], h["12"]["avg_stay_s"]) == (1, 190 * M)
    assert (day["day"], day["stays"], day["turnover"], day["abandoned_incidents"]) == (
        "2024-03-01",
        4,
        2.0,
        1,
    )
    # 09h and 10h: every known seat-minute occupied or away; 11h: 40 of 60 known minutes
    assert [(p["hour"], round(p["occupancy_rate"], 3)) for p in body["peak_hours"]] == [
        (9, 1.0),
        (10, 1.0),
        (11, 0.667),
    ]


async def test_day_bucket_totals(client):
    r = await client.get("/api/v1/stores/s1/stats", params={**DAY, "bucket": "day"})
    assert r.status_code == 200, r.text
    (b,) = r.json()["buckets"]
    a_occ = 30 * M + 150 * M  # 00:00-00:30, 09:00-11:30
    b_occ = 20 * M + 15 * M + 60 * M  # 10:00-10:20, 10:30-10:45, 12:00-13:00
    assert b["occupied_s"] == a_occ + b_occ
    assert b["unknown_s"] == 10 * H + 75 * M  # B: 00:00-10:00 and 10:45-12:00
    assert b["occupied_s"] + b["empty_s"] + b["away_s"] + b["abandoned_s"] + b["unknown_s"] == 2 * 24 * H


async def test_csv_export(client):
    r = await client.get("/api/v1/stores/s1/stats.csv", params={**DAY, "bucket": "hour"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 24 + 48
    a10 = next(
        x
        for x in rows
        if x["scope"] == "seat" and x["seat_id"] == "A" and x["start_local"].startswith("2024-03-01T10")
    )
    assert float(a10["occupied_s"]) == H and a10["stays"] == "0"
    store00 = rows[0]
    assert (store00["scope"], store00["occupancy_rate"]) == ("store", "0.5")


async def test_alerts_api_filters(client):
    r = await client.get("/api/v1/alerts", params={"store_id": "s1", "open": "true"})
    assert r.status_code == 200
    assert [(a["kind"], a["closed_at"]) for a in r.json()] == [("seat_abandoned", None)]
    r = await client.get("/api/v1/alerts", params={"store_id": "s1"})
    assert [a["kind"] for a in r.json()] == ["seat_abandoned", "edge_offline"]  # newest first
    r = await client.get("/api/v1/alerts", params={"open": "false"})
    assert [a["kind"] for a in r.json()] == ["edge_offline"]
    assert (await client.get("/api/v1/alerts", params={"store_id": "s2"})).json() == []
    r = await client.get("/api/v1/alerts", params={"limit": "0"})
    assert r.status_code == 400


async def test_old_stats_page_address_lands_on_the_history_page_of_that_day(client):
    # The hand-drawn SVG day page was replaced by the history page (ECharts + tables without JS).
    r = await client.get("/stores/s1/stats", params={"day": "2024-03-01"}, follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == "/stores/s1/history?from=2024-03-01&to=2024-03-01"
    r = await client.get("/stores/s1/stats", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/stores/s1/history"
    html = (await client.get("/stores/s1/stats", params={"day": "2024-03-01"})).text
    assert 'id="heatmap-chart"' in html and 'id="per-day"' in html


BAD_REQUESTS = [
    ("/api/v1/stores/s1/stats", {**DAY, "bucket": "week"}, 400, "bucket must be 'hour' or 'day'"),
    ("/api/v1/stores/s1/stats", {"from": DAY["to"], "to": DAY["from"]}, 400, "'to' must be after 'from'"),
    ("/api/v1/stores/s1/stats", {"from": "yesterday"}, 400, "neither epoch seconds nor ISO 8601"),
    ("/api/v1/stores/s1/stats", {"from": "2024-01-01", "to": "2024-06-01"}, 400, "window longer than"),
    ("/api/v1/stores/s1/stats", {**DAY, "tz": "Mars/Olympus"}, 400, "unknown time zone"),
    ("/api/v1/stores/nope/stats", DAY, 404, "store 'nope' not found"),
    ("/stores/s1/stats", {"day": "March"}, 400, "is not a date"),
]


async def test_bad_requests_say_what_is_wrong(client):
    # one app and database for all cases (each fresh database costs most of a second)
    for path, params, status, detail in BAD_REQUESTS:
        r = await client.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert detail in r.json()["detail"], (path, params, r.text)


async def test_store_without_seats_or_events(client):
    r = await client.get("/api/v1/stores/s2/stats", params={**DAY, "bucket": "day"})
    body = msgspec.json.decode(r.content)
    assert r.status_code == 200 and body["seats"] == []
    assert body["buckets"][0]["occupancy_rate"] is None and body["days"][0]["turnover"] == 0.0


async def test_history_api_is_what_the_page_draws_equal_to_the_raw_computation(client):
    """The compact history answer (issue 21): per day, per seat over the range, peaks and the charts'
    series, from the rollups; the same numbers as the page's view of compute_store_stats."""
    import dataclasses

    from hub.web.history import history_view

    r = await client.get("/api/v1/stores/s1/history", params={"from": "2024-03-01", "to": "2024-03-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    raw = history_view(compute_store_stats(TIMELINES, kst(1, 0), kst(2, 0), "hour"),
                       [datetime(2024, 3, 1).date()], {"A": "A", "B": "B"})
    assert body["days"] == [dataclasses.asdict(d) for d in raw["days"]]
    assert body["seats"] == [dataclasses.asdict(x) for x in raw["seats"]]
    assert body["peaks"] == raw["peaks"] and body["chart"] == raw["chart"]
    one = (await client.get("/api/v1/stores/s1/history",
                            params={"from": "2024-03-01", "to": "2024-03-01", "seat": "B"})).json()
    assert one["seats"][0]["seat_id"] == "B" and one["seats"][0]["stays"] == 2
    assert (await client.get("/api/v1/stores/s1/history", params={"seat": "nope"})).status_code == 400
    assert (await client.get("/api/v1/stores/nope/history")).status_code == 404


async def test_statistics_read_the_rollups_not_the_raw_events(client, pg_url):
    """Raw events gone (retention deletes them after months): the statistics, CSV and history page
    still have them, because they read the hourly rollups."""
    before = (await client.get("/api/v1/stores/s1/stats", params={**DAY, "bucket": "hour"})).json()
    engine = make_engine(pg_url)
    async with make_sessionmaker(engine)() as s:
        await s.execute(SeatEvent.__table__.delete().where(SeatEvent.store_id == "s1"))
        await s.commit()
    await engine.dispose()
    after = (await client.get("/api/v1/stores/s1/stats", params={**DAY, "bucket": "hour"})).json()
    assert after["buckets"] == before["buckets"] and after["seats"] == before["seats"]
    assert after["days"][0]["stays"] == 4
    page = (await client.get("/api/v1/stores/s1/history", params={"from": "2024-03-01", "to": "2024-03-01"})).json()
    assert page["days"][0]["stays"] == 4
