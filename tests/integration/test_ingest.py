"""Ingest end to end: simulated edge -> real Mosquitto -> hub consumer -> real database -> API."""

from __future__ import annotations

import logging
import time

import msgspec
import pytest

from protocol import Birth, ConfigAck, Delta, SnapshotRequest, encode
from tests.support.hub_queries import seats_by_id, states
from tests.support.waiting import wait_for


def metric(client, name: str) -> float:
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    return request.getfixturevalue("pg_url")


def test_birth_delta_event_reach_the_api(db_url, make_hub, sim):
    client = make_hub(db_url)
    edge = sim()
    t0 = time.time() - 30
    edge.birth({"s0": "empty", "s1": "occupied", "s2": "empty"}, since=t0)
    wait_for(lambda: states(client) == {"s0": "empty", "s1": "occupied", "s2": "empty"}, what="birth states")
    seats = seats_by_id(client)
    assert seats["s0"]["vacant_for_s"] >= 29 and seats["s1"]["vacant_for_s"] is None
    assert seats["s0"]["label"] == "A-0" and seats["s0"]["polygon"][0] == [0.0, 0.2]

    t1 = time.time()
    edge.event("s0", "empty", "occupied", at=t1)
    edge.delta({"s0": "occupied"}, since=t1)
    wait_for(lambda: states(client)["s0"] == "occupied", what="delta applied")
    assert seats_by_id(client)["s0"]["since"] == pytest.approx(t1)
    ev = wait_for(lambda: client.get("/api/v1/stores/store-a/events").json()["events"], what="event stored")
    assert [(e["seat_id"], e["from_state"], e["to_state"]) for e in ev] == [("s0", "empty", "occupied")]

    stores = client.get("/api/v1/stores").json()
    assert stores == [{"store_id": "store-a", "name": "store-a", "seats": 3,
                       "counts": {"empty": 1, "occupied": 2, "away": 0, "abandoned": 0, "unknown": 0},
                       "edges_online": 1, "edges_offline": 0}]
    detail = client.get("/api/v1/stores/store-a").json()
    assert detail["edges"][0]["edge_id"] == "edge-1" and detail["edges"][0]["online"] is True
    assert client.get("/api/v1/stores/nope").status_code == 404
    assert "not found" in client.get("/api/v1/stores/nope/seats").json()["detail"]


def test_channel_drift_from_health_is_stored_with_the_channel(db_url, make_hub, sim):
    """Issue 17: the edge's per-channel drift (camera moved from the desk references) is stored
    with the channel's health and served; an older edge's health (no drift) reads not measured."""
    from protocol import ChannelHealth, Health

    client = make_hub(db_url)
    edge = sim()
    edge.birth()
    wait_for(lambda: len(states(client)) == 3, what="birth")
    edge.send(Health(**edge.base(), channels=[ChannelHealth(1, True, fps=1.0, drift=0.061, camera_moved=True),
                                               ChannelHealth(2, True, fps=1.0, drift=0.004)]))

    def channels():
        edges = client.get("/api/v1/stores/store-a").json()["edges"]
        return {c["channel"]: (c["drift"], c["camera_moved"]) for e in edges for c in e["channels"]}

    wait_for(lambda: channels() == {1: (0.061, True), 2: (0.004, False)}, what="drift stored")
    edge.send(Health(**edge.base(), channels=[ChannelHealth(1, True, fps=1.0), ChannelHealth(2, True, fps=1.0)]))
    wait_for(lambda: channels() == {1: (None, False), 2: (None, False)}, what="re-taken: no drift any more")


def test_seat_desk_zones_reach_the_api(db_url, make_hub, sim):
    client = make_hub(db_url)
    edge = sim()
    desk = [(0.1, 0.05), (0.2, 0.05), (0.2, 0.15), (0.1, 0.15)]
    edge.seats[1] = msgspec.structs.replace(edge.seats[1], desk=desk)
    edge.birth()
    seats = wait_for(lambda: len(s := seats_by_id(client)) == 3 and s, what="seats from the birth")
    assert seats["s1"]["desk"] == [list(p) for p in desk]
    assert seats["s0"]["desk"] is None and seats["s2"]["desk"] is None  # no desk drawn: the edge derives it
    # A later layout without that desk clears it (the hub keeps no stale zone).
    edge.seats[1] = msgspec.structs.replace(edge.seats[1], desk=None, label="B-1")
    edge.birth()
    wait_for(lambda: seats_by_id(client)["s1"]["label"] == "B-1", what="the second layout")
    assert seats_by_id(client)["s1"]["desk"] is None


def test_a_state_carried_over_an_edge_restart_is_stored_as_resumed(db_url, make_hub, sim):
    """Issue 19 point 8: the birth after a restart marks the seats whose timer restarted; the
    hub keeps the mark (seat_states.resumed) until the seat's next real change clears it."""
    client = make_hub(db_url)
    edge = sim()
    t0 = time.time() - 5
    edge.birth({"s0": "empty", "s1": "occupied", "s2": "empty"}, since=t0, resumed={"s0", "s1"})
    seats = wait_for(lambda: len(s := seats_by_id(client)) == 3 and s, what="birth states")
    assert {k: v["resumed"] for k, v in seats.items()} == {"s0": True, "s1": True, "s2": False}
    t1 = time.time()
    edge.delta({"s0": "occupied"}, since=t1)  # a real transition: its start is known
    wait_for(lambda: states(client)["s0"] == "occupied", what="delta applied")
    seats = seats_by_id(client)
    assert (seats["s0"]["resumed"], seats["s1"]["resumed"]) == (False, True)


def test_redelivery_is_ingested_exactly_once(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth()
    at = time.time()
    ev = edge.event("s1", "empty", "occupied", at=at)
    de = edge.delta({"s1": "occupied"}, since=at)
    for _ in range(2):  # the broker redelivers (e.g. after a reconnect): same edge, boot, seq
        edge.send(ev)
        edge.send(de)
    last = edge.delta({"s2": "away"})
    wait_for(lambda: states(client).get("s2") == "away", what="the message after the duplicates")
    events = client.get("/api/v1/stores/store-a/events").json()["events"]
    assert len(events) == 1
    assert states(client) == {"s0": "empty", "s1": "occupied", "s2": "away"}
    assert metric(client, "seat_hub_duplicates_total") == 4
    assert metric(client, "seat_hub_sequence_gaps_total") == 0
    assert last.seq == 4


def test_gap_asks_for_snapshot_once_and_birth_repairs(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth()
    edge.delta({"s0": "occupied"})
    wait_for(lambda: states(client).get("s0") == "occupied", what="first delta")
    edge.seq += 2  # two messages lost on the way
    edge.delta({"s1": "occupied"})
    req = edge.wait_received(SnapshotRequest)
    assert (req.store_id, req.edge_id, req.reason) == ("store-a", "edge-1", "gap")
    edge.seq += 1  # another gap before the edge answered: no second request
    edge.delta({"s2": "away"})
    wait_for(lambda: states(client).get("s2") == "away", what="delta after second gap")
    # a missing range counts as a gap once it has not arrived within the grace time
    wait_for(lambda: metric(client, "seat_hub_sequence_gaps_total") == 2, what="second gap confirmed")
    assert metric(client, "seat_hub_snapshot_requests_total") == 1
    # The lost messages had changed s0: the edge answers with a fresh birth, which repairs it.
    edge.birth({"s0": "abandoned", "s1": "occupied", "s2": "away"})
    wait_for(lambda: states(client) == {"s0": "abandoned", "s1": "occupied", "s2": "away"}, what="repaired")
    edge.seq += 1  # a new gap after the birth is asked about again
    edge.delta({"s2": "empty"})
    assert edge.wait_received(SnapshotRequest).reason == "gap"


def test_death_makes_all_seats_unknown(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    other = sim(edge_id="edge-2", seats=0)
    edge.birth({"s0": "occupied", "s1": "empty", "s2": "away"})
    other.send(Birth(**other.base(), config_version=1, seats=[], states=[]))
    wait_for(lambda: len(states(client)) == 3, what="birth")
    before = time.time()
    edge.death()
    wait_for(lambda: set(states(client).values()) == {"unknown"}, what="seats unknown")
    seats = seats_by_id(client)
    assert all(s["since"] >= before - 1 for s in seats.values())
    edges = {e["edge_id"]: e for e in client.get("/api/v1/stores/store-a").json()["edges"]}
    assert edges["edge-1"]["online"] is False and edges["edge-2"]["online"] is True
    # A new session brings the seats back.
    edge.boot_id, edge.seq = "boot-2", 0
    edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
    wait_for(lambda: set(states(client).values()) == {"empty"}, what="rebirth")


def test_silent_edge_goes_offline_and_is_asked_for_a_snapshot(pg_url, make_hub, sim):
    client = make_hub(pg_url, edge_timeout_s=0.6)
    edge = sim()
    edge.birth({"s0": "occupied", "s1": "empty", "s2": "empty"})
    wait_for(lambda: states(client).get("s0") == "occupied", what="birth")
    wait_for(lambda: set(states(client).values()) == {"unknown"}, timeout=8, what="silence -> unknown")
    assert client.get("/api/v1/stores").json()[0]["edges_offline"] == 1
    edge.delta({"s1": "occupied"})  # it is back, but its other seats are still unknown
    assert edge.wait_received(SnapshotRequest).reason == "offline"


def test_historical_replay_never_overwrites_newer_state(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    now = time.time()
    edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"}, since=now - 600)
    edge.delta({"s0": "occupied"}, since=now)
    wait_for(lambda: states(client).get("s0") == "occupied", what="live delta")
    # After an outage the edge replays what it could not send: older, marked historical.
    edge.event("s0", "empty", "away", at=now - 300, historical=True)
    edge.delta({"s0": "away", "s1": "occupied"}, since=now - 300, ts=now - 300, historical=True)
    edge.delta({"s2": "occupied"}, since=time.time())
    wait_for(lambda: states(client).get("s2") == "occupied", what="message after the replay")
    st = seats_by_id(client)
    assert st["s0"]["state"] == "occupied" and st["s0"]["since"] == pytest.approx(now)
    assert st["s1"]["state"] == "empty"  # the birth observed s1 after the replayed change
    events = client.get("/api/v1/stores/store-a/events").json()["events"]
    assert [(e["to_state"], e["historical"]) for e in events] == [("away", True)]


def test_bad_payloads_are_logged_dropped_and_ingest_continues(pg_url, make_hub, sim, broker, caplog):
    caplog.set_level(logging.WARNING, logger="hub.ingest.writer")
    client = make_hub(pg_url)
    edge = sim()
    edge.birth()
    topics = edge.topics
    edge.send_raw(topics.topic("store-a", "edge-1", "delta"), b"\x93not msgpack at all")
    foreign = Delta(store_id="store-b", edge_id="edge-1", boot_id=edge.boot_id, seq=99, ts=time.time(), changes=[])
    edge.send_raw(topics.topic("store-a", "edge-1", "delta"), encode(foreign))  # payload for another store
    edge.send_raw(f"{broker.prefix}/store-a/edge-1/firmware", b"{}")  # a kind this system does not know
    edge.send_raw(f"{broker.prefix}/Bad Store/edge-1/delta", encode(foreign))
    edge.delta({"s0": "occupied"})
    wait_for(lambda: states(client).get("s0") == "occupied", what="the good message after bad ones")
    assert metric(client, "seat_hub_bad_payloads_total") == 4
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"{broker.prefix}/store-a/edge-1/firmware" in logged and "malformed payload" in logged
    assert "payload says store-b/edge-1/delta" in logged


def test_config_push_is_retained_and_ack_recorded(pg_url, make_hub, sim, broker):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth(config_version=3)
    wait_for(lambda: states(client), what="birth")
    url = "/api/v1/stores/store-a/edges/edge-1/config"
    body = {"seats": [{"seat_id": "n1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]],
                       "label": "N-1"}], "rules": {"abandoned_after_s": 300}}
    try:
        assert client.get(url).json()["version"] == 3  # the edge's own; an edit starts from it
        r = client.put(url, json={**body, "base_version": 3})
        assert r.status_code == 200, r.text
        assert r.json()["desired_version"] == 4 and r.json()["applied_version"] == 3
        cfg = edge.wait_received(__import__("protocol").Config)
        assert cfg.version == 4 and cfg.seats[0].seat_id == "n1" and cfg.rules.abandoned_after_s == 300
        # Retained: an edge that connects later still gets it.
        from tests.support.hub_harness import SimEdge

        late = SimEdge(broker)
        try:
            assert late.wait_received(__import__("protocol").Config).version == 4
        finally:
            late.close()
        edge.send(ConfigAck(**edge.base(), version=4, ok=True))
        wait_for(lambda: client.get(url).json()["acked_version"] == 4, what="ack recorded")
        assert client.get(url).json()["applied_version"] == 4

        # A bad layout is refused with every reason; nothing is stored or published.
        bad = {"seats": [
            {"seat_id": "x", "channel": 9, "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]},
            {"seat_id": "x", "channel": 1, "polygon": [[0, 0], [1.5, 0], [1, 1]]},
        ]}
        r = client.put(url, json={**bad, "base_version": 4})
        assert r.status_code == 400
        problems = r.json()["problems"]
        assert any("channel 9 is not configured" in p for p in problems)
        assert any("cross" in p for p in problems) and any("duplicate" in p for p in problems)
        assert any("outside 0..1" in p for p in problems)
        assert client.get(url).json()["desired_version"] == 4

        # The edge rejects the next one: its error is shown.
        assert client.put(url, json={**body, "base_version": 4}).json()["desired_version"] == 5
        edge.send(ConfigAck(**edge.base(), version=5, ok=False, error="channel 1 offline"))
        wait_for(lambda: client.get(url).json()["ack_error"] == "channel 1 offline", what="error ack")
        assert client.get(url).json()["applied_version"] == 4
        assert client.put("/api/v1/stores/nope/edges/edge-1/config", json={**body, "base_version": 0}).status_code == 404
    finally:  # leave no retained message behind on a shared broker
        edge.client.publish(edge.topics.topic("store-a", "edge-1", "config"), b"", qos=1, retain=True).wait_for_publish(5)


def test_events_pagination_filters_and_csv(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    edge.birth()
    base = 1_700_000_000.0
    for i in range(7):
        edge.event(f"s{i % 3}", "empty", "occupied" if i % 2 == 0 else "empty", at=base + i)
    wait_for(lambda: len(client.get("/api/v1/stores/store-a/events?limit=100").json().get("events", [])) == 7, what="events")
    got, cursor = [], None
    while True:
        page = client.get("/api/v1/stores/store-a/events", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        got += [e["at"] for e in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert got == [base + i for i in reversed(range(7))]
    occ = client.get("/api/v1/stores/store-a/events", params={"type": "occupied"}).json()["events"]
    assert len(occ) == 4
    s0 = client.get("/api/v1/stores/store-a/events", params={"seat": "s0", "from": base + 1,
                                                               "to": "2023-11-14T22:13:26+00:00"}).json()["events"]
    assert [e["at"] for e in s0] == [base + 3]
    # the same instant without an offset is store time (KST, hub.params): 07:13:26 KST = 22:13:26 UTC
    kst = client.get("/api/v1/stores/store-a/events", params={"seat": "s0", "from": base + 1,
                                                                "to": "2023-11-15T07:13:26"}).json()["events"]
    assert [e["at"] for e in kst] == [base + 3]
    assert client.get("/api/v1/stores/store-a/events", params={"cursor": "garbage"}).status_code == 400
    assert client.get("/api/v1/stores/store-a/events", params={"type": "sleeping"}).status_code == 400
    assert client.get("/api/v1/stores/store-a/events", params={"from": "yesterday"}).status_code == 400
    csv = client.get("/api/v1/stores/store-a/events.csv", params={"type": "occupied"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,store_id,seat_id") and len(lines) == 5
    assert "2023-11-14T22:13:20+00:00" in lines[1]
    # issue 19: the export says which clock: UTC in at_iso, store time (with +09:00) in at_store,
    # and the store's zone by name
    assert lines[0].endswith(",at_iso,at_epoch,historical,at_store,store_tz")
    assert lines[1].endswith(",2023-11-15T07:13:20+09:00,Asia/Seoul")
    page = client.get("/stores/store-a").text
    assert "모든 시각은 매장 시간(Asia/Seoul (KST, UTC+09:00)) 기준이며" in page  # the pages say it too
    assert "All times are store time" in client.get("/stores/store-a?lang=en").text
    assert client.get("/api/v1/stores/nope/events.csv").status_code == 404


def test_health_metrics_and_openapi(pg_url, make_hub):
    client = make_hub(pg_url)
    h = client.get("/healthz")
    assert h.status_code == 200 and h.json() == {"status": "ok", "db": "ok", "mqtt": "connected"}
    assert "seat_hub_messages_ingested" in client.get("/metrics").text
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/stores/{store_id}/events" in paths


@pytest.fixture
def replicas(pg_url, broker, sim):
    """Two hub processes on one shared subscription and one database, and an edge with a birth
    of three empty seats: (apps, client of the first, edge)."""
    from litestar.testing import TestClient

    from hub.app import create_app
    from tests.support.hub_auth import admin_client
    from tests.support.hub_harness import hub_settings

    settings = hub_settings(broker, pg_url)
    apps = [create_app(settings, migrate=True), create_app(settings)]
    with TestClient(apps[0]) as c1, TestClient(apps[1]):
        for a in apps:
            wait_for(lambda a=a: a.state.mqtt.subscribed.is_set(), what="replica subscribed")
        admin_client(c1, pg_url)
        edge = sim()
        edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
        wait_for(lambda: len(states(c1)) == 3, what="birth")
        yield apps, c1, edge


def test_two_replicas_share_the_ingest_without_false_gaps(replicas):
    """The broker deals an edge's messages out between the replicas, so each sees "holes" in
    the sequence that the other fills. No snapshot request, every event once, the state right."""
    apps, c1, edge = replicas
    t, want = time.time(), {}
    for i in range(150):
        seat, to = f"s{i % 3}", ("occupied" if (i // 3) % 2 == 0 else "empty")
        edge.event(seat, "empty" if to == "occupied" else "occupied", to, at=t + i)
        edge.delta({seat: to}, since=t + i)
        want[seat] = to
    wait_for(lambda: len(c1.get("/api/v1/stores/store-a/events", params={"limit": 1000}).json()["events"]) == 150,
             what="all events")
    wait_for(lambda: states(c1) == want, what="final states")
    # the broker deals the messages out in turn: each replica sees every other seq only
    handled = [sum(a.state.metrics.ingested.labels(k)._value.get() for k in ("delta", "event")) for a in apps]
    assert all(n > 0 for n in handled) and sum(handled) == 300, handled
    time.sleep(4)  # past the gap grace time
    assert sum(a.state.metrics.gaps._value.get() for a in apps) == 0
    assert sum(a.state.metrics.snapshot_requests._value.get() for a in apps) == 0


def test_a_page_on_one_replica_sees_what_the_other_replica_wrote(replicas):
    """Live updates go through the broker to every replica: a dashboard connected to replica A
    gets the seat changes that replica B's ingest wrote."""
    apps, c1, edge = replicas
    with c1.websocket_connect("/ws/stores/store-a") as ws:
        assert ws.receive_json(timeout=5)["type"] == "hello"
        t = time.time()
        sent = []
        for i in range(12):  # deltas only: the broker deals them out to both replicas in turn
            seat, to = f"s{i % 3}", ("occupied" if (i // 3) % 2 == 0 else "empty")
            edge.delta({seat: to}, since=t + i)
            sent.append((seat, to, t + i))
            time.sleep(0.3)  # one change per batch, so that every change is its own update
        seen = []
        while len(seen) < len(sent):
            msg = ws.receive_json(timeout=10)
            if msg["type"] == "update":
                seen += [(s["seat_id"], s["state"], s["since"]) for s in msg["seats"]]
        assert sorted(seen, key=lambda x: x[2]) == sent
    handled = [a.state.metrics.ingested.labels("delta")._value.get() for a in apps]
    assert all(n > 0 for n in handled), handled  # both replicas wrote some of them
