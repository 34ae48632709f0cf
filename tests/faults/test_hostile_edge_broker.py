"""Issue 20, items 1-3: one store's edge credentials in an attacker's hands, against the shipped
broker setup (`seat-hub store add/bundle` + `broker-acl` + packaging/mosquitto-seat.conf on a
real Mosquitto 2.0.11, the hub on the loopback listener, edges on the edge listener).

Before the fixes: (1) an edge joining `$share/seat-hub/...` took a share of every store's
messages, which its read ACL then dropped (the hub stored 100 of 200 with one attacker); (2) an
edge connecting with the hub's guessable client id `seat-hub-{host}-{port}` kicked the hub off;
(3) an edge connecting with another store's client id kicked that edge (its Last Will fired).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import msgspec
import pytest
from litestar.testing import TestClient

from hub.app import create_app
from hub.settings import load_settings
from protocol import Birth, ChannelDef, Event, SeatDef, SeatSnapshot, TopicSpace, encode
from tests.support.seat_broker import Client, Mosquitto, provision
from tests.support.waiting import wait_for

N_EVENTS = 200


def _birth(store: str, boot: str) -> Birth:
    seats = [SeatDef(seat_id="s1", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
    return Birth(store_id=store, edge_id="edge1", boot_id=boot, seq=1, ts=time.time(), config_version=1,
                 seats=seats, channels=[ChannelDef(1, "door")], states=[SeatSnapshot("s1", "empty", time.time())])


def _events(store: str, boot: str, n: int, first_seq: int = 2) -> list[Event]:
    t0 = time.time() - n
    out = []
    for i in range(n):
        a, b = ("empty", "occupied") if i % 2 == 0 else ("occupied", "empty")
        out.append(Event(store_id=store, edge_id="edge1", boot_id=boot, seq=first_seq + i, ts=t0 + i,
                         seat_id="s1", from_state=a, to_state=b, at=t0 + i))
    return out


def _stored(db_file, store: str) -> int:
    with sqlite3.connect(db_file) as c:
        return c.execute("SELECT count(*) FROM seat_events WHERE store_id=?", (store,)).fetchone()[0]


@pytest.fixture
def shipped(tmp_path):
    prefix = f"hostile-{uuid.uuid4().hex[:8]}/seat/v1"
    setup = provision(tmp_path, prefix)
    broker = Mosquitto(tmp_path, setup["files"], edge_listener=True)
    settings = load_settings(setup["cfg"])
    settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=broker.port))
    app = create_app(settings, migrate=True)
    clients: list[Client] = []
    try:
        with TestClient(app) as hub:
            # (every store's own session too: the shipped setup reads each store on its own)
            wait_for(lambda: app.state.mqtt.ready(), what="hub subscribed")
            yield {**setup, "broker": broker, "app": app, "hub": hub, "topics": TopicSpace(prefix),
                   "clients": clients, "settings": settings}
    finally:
        for c in clients:
            c.close()
        broker.stop()


def _connect(env, port: int, store: str, **kw) -> Client:
    c = Client(port, f"{store}.edge1", env["passwords"][store], **kw)
    env["clients"].append(c)
    assert c.accepted
    return c


def _send_events(env, edge: Client, store: str) -> None:
    topics, boot = env["topics"], uuid.uuid4().hex
    assert edge.publish(topics.topic(store, "edge1", "birth"), encode(_birth(store, boot))) == 0
    for ev in _events(store, boot, N_EVENTS):
        assert edge.publish(topics.topic(store, "edge1", "event"), encode(ev)) == 0


def test_an_edge_cannot_take_a_share_of_the_hubs_subscription(shipped):
    env = shipped
    prefix = env["topics"].prefix
    # Five attacker connections with store a's credentials, even on the hub's own listener, join
    # every group name an attacker can know (the old fixed "seat-hub" and the documented example).
    for _ in range(5):
        att = _connect(env, env["broker"].port, "a")
        for group in ("seat-hub", "hub", "seat"):
            att.subscribe(f"$share/{group}/{prefix}/#")
            att.subscribe(f"$share/{group}/{prefix}/+/+/+")
    victim = _connect(env, env["broker"].tls_port, "b")
    _send_events(env, victim, "b")
    wait_for(lambda: _stored(env["db_file"], "b") >= N_EVENTS, timeout=30,
             what=f"all {N_EVENTS} of store b's events stored (got {_stored(env['db_file'], 'b')})")
    time.sleep(0.5)
    assert _stored(env["db_file"], "b") == N_EVENTS


def test_an_edge_cannot_take_over_the_hubs_client_id(shipped):
    env = shipped
    app, settings = env["app"], env["settings"]
    import socket

    guessable = f"seat-hub-{socket.gethostname()}-{settings.http.port}"
    assert app.state.mqtt.client_id != guessable and len(app.state.mqtt.client_id) > len(guessable) + 8
    flaps: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not app.state.mqtt.connected.is_set():
                flaps.append(time.time())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    victim = _connect(env, env["broker"].tls_port, "b")
    try:
        # The old guessable id (on any listener), and even the hub's real id on the edge listener
        # (where the broker replaces every client id with the username).
        for _ in range(3):
            _connect(env, env["broker"].port, "a", client_id=guessable)
            _connect(env, env["broker"].tls_port, "a", client_id=app.state.mqtt.client_id)
        _send_events(env, victim, "b")
        wait_for(lambda: _stored(env["db_file"], "b") >= N_EVENTS, timeout=30,
                 what=f"all {N_EVENTS} events stored (got {_stored(env['db_file'], 'b')})")
    finally:
        stop.set()
        watcher.join()
    assert flaps == [], f"the hub lost its broker connection {len(flaps)} times"
    assert _stored(env["db_file"], "b") == N_EVENTS


def test_an_edge_cannot_kick_another_stores_edge(shipped):
    env = shipped
    victim = _connect(env, env["broker"].tls_port, "b", client_id="b.edge1")
    time.sleep(0.3)
    for cid in ("b.edge1", "seat-edge-b-edge1", victim.c._client_id.decode()):
        _connect(env, env["broker"].tls_port, "a", client_id=cid)
    time.sleep(1.0)
    assert victim.disconnects == [], victim.disconnects
    assert victim.publish(env["topics"].topic("b", "edge1", "birth"), encode(_birth("b", uuid.uuid4().hex))) == 0


def test_the_broker_refuses_an_oversized_publish(shipped):
    """Item 6: a 200 MB publish used to be accepted and handed to the hub (RSS 115 -> 386 MB).
    Now the broker disconnects a client whose packet exceeds max_packet_size (2 MB here: over
    the 1 MiB protocol limit), and the hub never sees it; the biggest legal payload still passes."""
    env = shipped
    from protocol.limits import MAX_PAYLOAD_BYTES

    att = _connect(env, env["broker"].tls_port, "a")
    topic = env["topics"].topic("a", "edge1", "birth")
    att.c.publish(topic, b"\0" * (2 * 1024 * 1024), qos=1)
    wait_for(lambda: att.disconnects, timeout=10, what="the broker to disconnect the oversized publisher")
    # (Mosquitto sends DISCONNECT "packet too large" or just closes the socket: either way the
    # connection is gone; paho then reconnects by itself.)
    ok = _connect(env, env["broker"].tls_port, "b")
    # the biggest payload the protocol allows still passes the broker (the hub judges its content)
    assert ok.publish(env["topics"].topic("b", "edge1", "health"), b"\0" * MAX_PAYLOAD_BYTES) == 0
    assert ok.disconnects == []
    assert env["app"].state.mqtt.connected.is_set()


def test_an_edges_retained_messages_are_dropped_and_cleared_by_the_hub(shipped):
    """Item 6: retained messages from an edge (other than its Last Will) used to stay in the broker
    and be replayed into the hub at every restart. The broker cannot refuse retain per account;
    the hub drops such a message when it is handed over, counts it and clears it."""
    env = shipped
    topics = env["topics"]
    att = _connect(env, env["broker"].tls_port, "a")
    topic = topics.topic("a", "edge1", "event")
    assert att.publish(topic, b"\x00" * 500_000, retain=True) == 0
    # a hub (re)starting: a second replica with its own client id subscribes and is handed the message
    settings = env["settings"]
    again = msgspec.structs.replace(settings, http=msgspec.structs.replace(settings.http, port=settings.http.port + 1))
    app2 = create_app(again, migrate=False)
    with TestClient(app2):
        wait_for(lambda: app2.state.mqtt.ready(), what="second hub subscribed")
        wait_for(lambda: _retained_count(app2) >= 1, timeout=10, what="the hub to drop the retained message")
    # cleared: a fresh subscriber (the hub account, not shared) is handed nothing for that topic
    probe = Client(env["broker"].port, "seat-hub", "hub-secret-123")
    env["clients"].append(probe)
    assert probe.subscribe(topic) == 1
    time.sleep(1.0)
    assert probe.got.empty()


def _retained_count(app) -> float:
    from prometheus_client import generate_latest

    text = generate_latest(app.state.metrics.registry).decode()
    for line in text.splitlines():
        if line.startswith("seat_hub_rejected_messages_total") and 'reason="edge_retained"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0
