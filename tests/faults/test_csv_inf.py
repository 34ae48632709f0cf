"""The CSV export survives rows whose time is not a real date (inf, NaN, 1e300: stored before
the ingest guard existed, or written by hand). Before the fix ``datetime.fromtimestamp(inf)``
raised mid-stream and the download broke off. Real PostgreSQL, the real app (no MQTT)."""

from __future__ import annotations

import csv
import io
import time

from litestar.testing import TestClient

from hub.app import create_app
from hub.db.models import SeatEvent, Store
from hub.settings import DatabaseSettings, HubSettings
from tests.support.hub_auth import admin_client


def test_csv_export_with_inf_nan_and_huge_times(pg_url):
    app = create_app(HubSettings(database=DatabaseSettings(url=pg_url)), start_mqtt=False, migrate=True)
    with TestClient(app) as client:
        admin_client(client, pg_url)
        now = time.time()

        async def seed() -> None:
            async with app.state.sessionmaker() as s, s.begin():
                s.add(Store(id="store-a", name="A", created_at=now))
                await s.flush()
                for i, at in enumerate([now, float("inf"), float("nan"), 1e300, now + 1]):
                    s.add(SeatEvent(store_id="store-a", seat_id="s0", edge_id="e1", boot_id="b", seq=i + 1,
                                    from_state="empty", to_state="occupied", at=at, evidence={},
                                    historical=False, received_at=now))

        with client.portal() as portal:
            portal.call(seed)
        r = client.get("/api/v1/stores/store-a/events.csv")
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0][6:8] == ["at_iso", "at_epoch"]
        assert len(rows) == 6, rows  # header + all five events, none cut off
        isos = [row[6] for row in rows[1:]]
        assert sorted(iso[:2] for iso in isos) == ["", "", "", "20", "20"]
