"""Issue 19 point 4: each store has its own time zone (``seat-hub store add --timezone``, default
the hub's ``timezone``); its pages, statistics, history and both CSV exports use it and say which.
On the embedded default (SQLite), through the real CLI and the real app."""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from litestar.testing import TestClient
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli.main import app as cli
from hub.db.models import Seat, SeatEvent
from hub.settings import load_settings
from tests.support.hub_auth import admin_client

BERLIN = ZoneInfo("Europe/Berlin")


def _seed(db_url: str) -> None:
    """One seat per store, occupied 09:00-10:00 store time on 2024-03-01 in Berlin."""
    import asyncio

    from hub.db.session import make_engine, make_sessionmaker
    from hub.stats.rollup_db import rebuild_store

    at = datetime(2024, 3, 1, 9, 0, tzinfo=BERLIN).timestamp()

    async def main() -> None:
        engine = make_engine(db_url)
        async with make_sessionmaker(engine)() as s:
            for store in ("berlin", "seoul"):
                s.add(Seat(store_id=store, seat_id="A", edge_id="edge1", channel=1, label="A",
                           polygon=[[0, 0], [1, 0], [1, 1]]))
                for seq, (frm, to, t) in enumerate([("unknown", "empty", at - 3600), ("empty", "occupied", at),
                                                    ("occupied", "empty", at + 3600)], 1):
                    s.add(SeatEvent(store_id=store, seat_id="A", edge_id="edge1", boot_id="b", seq=seq,
                                    from_state=frm, to_state=to, at=t, evidence={}, historical=False,
                                    received_at=t))
            await s.flush()
            for store in ("berlin", "seoul"):  # the hourly rollups the ingest writer keeps
                await rebuild_store(s, store)
            await s.commit()
        await engine.dispose()

    asyncio.run(main())


def test_a_store_has_its_own_time_zone_everywhere(tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'timezone = "Asia/Seoul"\n[database]\nurl = "{db}"\n')
    runner = CliRunner()
    r = runner.invoke(cli, ["store", "add", "berlin", "--timezone", "Europe/Berln", "--config", str(cfg)])
    assert r.exit_code == 2 and "'Europe/Berln' is no time zone name" in r.output  # a typo is refused
    r = runner.invoke(cli, ["store", "add", "berlin", "--name", "Berlin", "--timezone", "Europe/Berlin",
                            "--config", str(cfg)])
    assert r.exit_code == 0 and "time zone Europe/Berlin" in r.output, r.output
    r = runner.invoke(cli, ["store", "add", "seoul", "--config", str(cfg)])
    assert r.exit_code == 0 and "time zone of the hub (Asia/Seoul)" in r.output, r.output
    listing = runner.invoke(cli, ["store", "list", "--config", str(cfg)]).output
    assert "Europe/Berlin" in listing and "Asia/Seoul (hub)" in listing
    # the edge's bundle carries the store's zone (written only when not the edge's default)
    for store, want in (("berlin", 'timezone = "Europe/Berlin"'), ("seoul", None)):
        r = runner.invoke(cli, ["store", "bundle", store, "--broker-url", "mqtt://hub.example", "--out",
                                str(tmp_path / store), "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        text = (tmp_path / store / "edge-bundle.toml").read_text()
        assert (want in text) if want else ("timezone" not in text)
    _seed(db)

    with TestClient(create_app(load_settings(cfg), start_mqtt=False, migrate=True)) as client:
        admin_client(client, db)
        assert client.get("/api/v1/stores/berlin").json()["timezone"] == "Europe/Berlin"
        assert client.get("/api/v1/stores/seoul").json()["timezone"] == "Asia/Seoul"  # the hub's
        # statistics: the day and its hours are Berlin's (09:00 there is 17:00 in Seoul)
        day = {"from": "2024-03-01", "to": "2024-03-02", "bucket": "hour"}
        stats = client.get("/api/v1/stores/berlin/stats", params=day).json()
        assert stats["tz"] == "Europe/Berlin"
        assert stats["from"] == datetime(2024, 3, 1, tzinfo=BERLIN).timestamp()
        busy = [b["start_local"] for b in stats["buckets"] if b["occupied_s"] > 0]
        assert busy == ["2024-03-01T09:00:00+01:00"]
        seoul = client.get("/api/v1/stores/seoul/stats", params=day).json()
        assert seoul["tz"] == "Asia/Seoul" and [b["start_local"] for b in seoul["buckets"] if b["occupied_s"] > 0] \
            == ["2024-03-01T17:00:00+09:00"]
        # an explicit tz still wins
        assert client.get("/api/v1/stores/berlin/stats", params={**day, "tz": "UTC"}).json()["tz"] == "UTC"
        rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/stores/berlin/stats.csv", params=day).text)))
        assert {r["tz"] for r in rows} == {"Europe/Berlin"}
        ev = list(csv.DictReader(io.StringIO(client.get("/api/v1/stores/berlin/events.csv").text)))
        assert ev[1]["at_store"] == "2024-03-01T09:00:00+01:00" and ev[1]["store_tz"] == "Europe/Berlin"
        # events API: a time without an offset is the store's
        got = client.get("/api/v1/stores/berlin/events", params={"from": "2024-03-01T09:00",
                                                                  "to": "2024-03-01T09:01"}).json()["events"]
        assert [e["to_state"] for e in got] == ["occupied"]
        # pages: the store's pages name its zone; the overview names the hub's
        page = client.get("/stores/berlin?lang=en").text
        assert 'id="store-zone"' in page and "Europe/Berlin (CE" in page and 'data-zone="Europe/Berlin"' in page
        hist = client.get("/stores/berlin/history", params={"from": "2024-03-01", "to": "2024-03-01"}).text
        assert "All times are store time (Europe/Berlin (CET, UTC+01:00))" in hist
        assert '"2024-03-01 09:00"' in hist and '"zone":"Europe/Berlin"' in hist.replace(" ", "")
        assert "hour (Europe/Berlin)" in hist  # the chart's axis names the zone
        assert "All times are the hub's time (Asia/Seoul (KST, UTC+09:00))" in html.unescape(client.get("/?lang=en").text)
        # a date field shows ISO whatever the browser's locale: no <input type=date>
        assert 'type="date"' not in hist and 'placeholder="YYYY-MM-DD"' in hist
    # back to the hub's zone
    assert runner.invoke(cli, ["store", "add", "berlin", "--timezone", "", "--config", str(cfg)]).exit_code == 0
    assert "Europe/Berlin" not in runner.invoke(cli, ["store", "list", "--config", str(cfg)]).output
