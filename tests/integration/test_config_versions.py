"""ROI config push with versions: a stale save is refused (409), pending -> applied on the edge's
ack, a failed ack surfaces in the API and on the store page, every push is audited. Real
PostgreSQL and Mosquitto; the edge is simulated on the real broker."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from hub.db.models import AuditEntry
from hub.db.session import make_engine, make_sessionmaker
from protocol import Config, ConfigAck
from tests.support.waiting import wait_for

URL = "/api/v1/stores/store-a/edges/edge-1/config"
SEATS = [{"seat_id": "n1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]], "label": "N-1"}]


async def _audit(url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = await db.execute(select(AuditEntry.kind, AuditEntry.username, AuditEntry.detail)
                                    .where(AuditEntry.kind == "config_push").order_by(AuditEntry.id))
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


def test_stale_save_refused_pending_applied_failed(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth(config_version=2)
    wait_for(lambda: client.get(URL).json().get("version") == 2, what="birth")
    try:
        st = client.get(URL).json()
        assert st["status"] == "none" and st["applied_version"] == 2

        # Two admins open the editor on version 2; the first saves, the second is refused.
        first = client.put(URL, json={"seats": SEATS, "base_version": 2})
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "pending" and first.json()["desired_version"] == 3
        stale = client.put(URL, json={"seats": SEATS, "base_version": 2})
        assert stale.status_code == 409, stale.text
        assert "version 3 is current" in stale.json()["detail"] and stale.json()["extra"]["current_version"] == 3
        assert client.get(URL).json()["desired_version"] == 3  # nothing stored, nothing merged
        r = client.put(URL, json={"seats": SEATS})
        assert r.status_code == 400 and "base_version" in r.text  # the version is required
        assert edge.wait_received(Config).version == 3  # only the first save was published

        # pending -> applied on the edge's ok ack
        page = client.get("/stores/store-a").text
        assert 'data-config-status="pending"' in page and "설정 v3 적용 대기 중" in page
        edge.send(ConfigAck(**edge.base(), version=3, ok=True))
        wait_for(lambda: client.get(URL).json()["status"] == "applied", what="applied after the ack")
        assert client.get(URL).json()["applied_version"] == 3
        assert 'data-config-status="applied"' in client.get("/stores/store-a").text

        # the next push is refused by the edge: failed, with its reason, in API and page
        r = client.put(URL, json={"seats": SEATS, "base_version": 3})
        assert r.status_code == 200 and r.json()["status"] == "pending"
        edge.send(ConfigAck(**edge.base(), version=4, ok=False, error="channel 1 is offline"))
        wait_for(lambda: client.get(URL).json()["status"] == "failed", what="failed ack")
        st = client.get(URL).json()
        assert st["ack_error"] == "channel 1 is offline" and st["applied_version"] == 3 and st["version"] == 4
        page = client.get("/stores/store-a?lang=en").text
        assert 'data-config-status="failed"' in page and "config v4 failed" in page
        assert "channel 1 is offline" in page
    finally:  # no retained config left on the shared broker
        edge.client.publish(edge.topics.topic("store-a", "edge-1", "config"), b"", qos=1, retain=True).wait_for_publish(5)
    pushes = asyncio.run(_audit(pg_url))
    assert [(k, u) for k, u, _ in pushes] == [("config_push", "admin")] * 2
    assert "version=3" in pushes[0][2] and "version=4" in pushes[1][2]


def test_seats_only_save_keeps_the_state_rules(pg_url, make_hub, sim):
    """Issue 19: a save that carries only seats (or only some rules) keeps every rule it does
    not mention; before, the body's missing rules became the defaults (6 / 20 / 600)."""
    client = make_hub(pg_url)
    edge = sim()
    edge.birth(config_version=1)
    wait_for(lambda: client.get(URL).json().get("version") == 1, what="birth")
    try:
        tuned = {"enter_s": 4, "exit_s": 30, "abandoned_after_s": 900}
        r = client.put(URL, json={"seats": SEATS, "base_version": 1, "rules": tuned})
        assert r.status_code == 200, r.text
        r = client.put(URL, json={"seats": SEATS, "base_version": 2})  # seats only
        assert r.status_code == 200, r.text
        rules = client.get(URL).json()["rules"]
        assert (rules["enter_s"], rules["exit_s"], rules["abandoned_after_s"]) == (4, 30, 900), rules
        assert edge.wait_received(Config).version == 2
        pushed = edge.wait_received(Config)
        assert pushed.version == 3 and pushed.rules.exit_s == 30  # what the edge applies
        r = client.put(URL, json={"seats": SEATS, "base_version": 3, "rules": {"exit_s": 12}})  # one rule
        assert r.status_code == 200, r.text
        rules = client.get(URL).json()["rules"]
        assert (rules["enter_s"], rules["exit_s"], rules["abandoned_after_s"]) == (4, 12, 900), rules
        bad = client.put(URL, json={"seats": SEATS, "base_version": 4, "rules": {"exit_seconds": 1}})
        assert bad.status_code == 400 and "exit_seconds" in bad.text  # a typo is refused, not ignored
    finally:
        edge.client.publish(edge.topics.topic("store-a", "edge-1", "config"), b"", qos=1, retain=True).wait_for_publish(5)
