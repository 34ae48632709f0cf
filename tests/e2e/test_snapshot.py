"""ROI snapshot from a running edge agent: an admin asks, the real agent (image-folder camera,
real person model) answers with a JPEG whose faces are blurred, the hub keeps it at most 7 days
and shows it to admins only, every request and view audited. Real Mosquitto and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from edge_agent.agent import EdgeAgent
from edge_agent.settings import parse_config
from hub.app import create_app
from hub.db.models import AuditEntry, Snapshot
from hub.db.session import make_engine, make_sessionmaker
from tests.support.agent import agent_config, run_agent_until, seats_at_hub
from tests.support.hub_auth import admin_client, create_user, login
from tests.support.hub_harness import hub_settings
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]


async def _db(url: str, stmt, fetch: bool = True):
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            res = await db.execute(stmt)
            out = [tuple(r) for r in res] if fetch else None
            await db.commit()
            return out
    finally:
        await engine.dispose()


def test_snapshot_blurred_admin_only_audited_kept_7_days(tmp_path, broker, pg_url, person_model_path):
    app = create_app(hub_settings(broker, pg_url), migrate=True)
    with TestClient(app) as client:
        wait_for(lambda: app.state.mqtt.subscribed.is_set(), what="hub subscribed")
        admin_client(client, pg_url)
        agent = EdgeAgent(parse_config(agent_config(tmp_path, broker, person_model_path)))
        agent.start()
        try:
            run_agent_until(agent, lambda: seats_at_hub(client), 60, "the edge's birth at the hub")
            url = "/api/v1/stores/cfgpush/edges/edge1/snapshots"
            r = client.post(url, json={"channel": 1})
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "requested"
            snap = run_agent_until(agent, lambda: next(
                (s for s in client.get("/api/v1/stores/cfgpush/snapshots").json() if s["status"] != "requested"),
                None), 30, "the edge's snapshot")
            assert snap["status"] == "ready" and snap["faces_blurred"] >= 1 and snap["requested_by"] == "admin"
            img = client.get(snap["url"])
            assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
            assert img.headers["cache-control"] == "no-store"
            pic = cv2.imdecode(np.frombuffer(img.content, np.uint8), cv2.IMREAD_COLOR)
            assert pic is not None and pic.shape[0] > 100

            # a channel the edge does not have: a clear error, no picture
            client.post(url, json={"channel": 7})
            failed = run_agent_until(agent, lambda: next(
                (s for s in client.get("/api/v1/stores/cfgpush/snapshots").json() if s["channel"] == 7
                 and s["status"] != "requested"), None), 30, "the error answer")
            assert failed["status"] == "failed" and "no channel 7" in failed["error"] and failed["url"] is None
        finally:
            agent.stop()

        # admins only: an HQ viewer and the store's own staff get 403, for the list and the picture
        create_user(pg_url, "viewer", "hq_viewer")
        create_user(pg_url, "staff1", "staff", ["cfgpush"])
        for who in ("viewer", "staff1"):
            client.cookies.clear()
            login(client, who)
            assert client.get("/api/v1/stores/cfgpush/snapshots").status_code == 403
            assert client.get(snap["url"]).status_code == 403
            assert client.post(url, json={"channel": 1}).status_code == 403
        client.cookies.clear()
        login(client, "admin")

        # kept at most 7 days: an 8-day-old snapshot is neither listed nor served, and is purged
        asyncio.run(_db(pg_url, update(Snapshot).where(Snapshot.id == snap["id"])
                        .values(requested_at=time.time() - 8 * 86400), fetch=False))
        assert snap["id"] not in [s["id"] for s in client.get("/api/v1/stores/cfgpush/snapshots").json()]
        assert client.get(snap["url"]).status_code == 404
        client.post(url, json={"channel": 1})  # any new request purges what is past 7 days
        assert not asyncio.run(_db(pg_url, select(Snapshot.id).where(Snapshot.id == snap["id"])))

    kinds = [k for (k,) in asyncio.run(_db(pg_url, select(AuditEntry.kind).order_by(AuditEntry.id)))]
    assert kinds.count("snapshot_request") == 3 and kinds.count("snapshot_view") == 1
