"""Edge provisioning and broker access control with a REAL private Mosquitto started from the
shipped packaging/mosquitto-seat.conf and the files `seat-hub broker-acl` writes:

- an edge with store a's credentials is refused by the broker when it publishes as store b, or
  subscribes to store b's config; a wrong password cannot connect;
- the hub's account receives every edge's messages (shared subscription) and relays its live
  updates (dashboards update through the broker);
- a new bundle rotates the password: after broker-acl + reload the old one is refused.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
from litestar.testing import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli.main import app as cli
from hub.settings import load_settings
from protocol import Birth, ChannelDef, Delta, SeatDef, SeatSnapshot, TopicSpace, encode
from tests.support.hub_auth import admin_client
from tests.support.seat_broker import NOT_AUTHORIZED, REPO, Client, Mosquitto
from tests.support.waiting import wait_for


def _birth(store: str, edge: str = "edge1") -> Birth:
    seats = [SeatDef(seat_id="s1", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
    return Birth(store_id=store, edge_id=edge, boot_id=uuid.uuid4().hex, seq=1, ts=time.time(), config_version=1,
                 seats=seats, channels=[ChannelDef(1, "door")], states=[SeatSnapshot("s1", "empty", time.time())])


def test_broker_refuses_an_edge_acting_as_another_store_and_the_hub_keeps_working(tmp_path):
    prefix = f"acl-{uuid.uuid4().hex[:8]}/seat/v1"
    topics = TopicSpace(prefix)
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    files = tmp_path / "mosq"
    cfg = tmp_path / "hub.toml"
    runner = CliRunner()

    def run(*args: str) -> str:
        r = runner.invoke(cli, [*args, "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        return r.output

    # broker-acl needs the hub's own account first
    cfg.write_text(f'[database]\nurl = "{db}"\n[mqtt]\ntopic_prefix = "{prefix}"\n')
    r = runner.invoke(cli, ["broker-acl", "--out", str(files), "--config", str(cfg)])
    assert r.exit_code == 2 and "mqtt.username and mqtt.password" in r.output
    cfg.write_text(f'[database]\nurl = "{db}"\n[mqtt]\ntopic_prefix = "{prefix}"\n'
                   f'username = "seat-hub"\npassword = "hub-secret-123"\n')
    run("store", "add", "a", "--name", "A점")
    run("store", "add", "b", "--name", "B점")
    run("store", "bundle", "a", "--broker-url", "mqtt://127.0.0.1", "--out", str(tmp_path / "bundle-a"))
    run("store", "bundle", "b", "--broker-url", "mqtt://127.0.0.1", "--out", str(tmp_path / "bundle-b"))
    run("broker-acl", "--out", str(files))
    st = os.stat(files / "seat.passwd")
    try:  # readable by the broker's group only when that group exists (Debian's mosquitto package)
        import grp

        gid = grp.getgrnam("mosquitto").gr_gid
        assert st.st_gid == gid and st.st_mode & 0o777 == 0o640
    except KeyError:
        assert st.st_mode & 0o777 == 0o600
    bundle_a = tomllib.loads((tmp_path / "bundle-a" / "edge-bundle.toml").read_text())
    bundle_b = tomllib.loads((tmp_path / "bundle-b" / "edge-bundle.toml").read_text())
    assert bundle_a["edge"] == {"store_id": "a", "edge_id": "edge1"}
    assert bundle_a["mqtt"]["username"] == "a.edge1" and bundle_a["mqtt"]["topic_prefix"] == prefix
    assert bundle_a["mqtt"]["password"] not in (files / "seat.passwd").read_text()  # only hashes

    broker = Mosquitto(tmp_path, files)
    clients: list[Client] = []
    try:
        settings = load_settings(cfg)
        settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=broker.port))
        app = create_app(settings, migrate=True)
        with TestClient(app) as hub:
            wait_for(lambda: app.state.mqtt.ready(), what="hub subscribed with its account (and per store)")
            admin_client(hub, db)
            edge_a = Client(broker.port, "a.edge1", bundle_a["mqtt"]["password"])
            clients.append(edge_a)
            assert edge_a.accepted

            wrong = Client(broker.port, "a.edge1", "not-the-password")
            clients.append(wrong)
            assert not wrong.accepted

            with hub.websocket_connect("/ws/stores/a") as ws:
                assert ws.receive_json(timeout=5)["type"] == "hello"
                # store a's edge, its own topics: accepted, ingested, and live on the dashboard
                assert edge_a.publish(topics.topic("a", "edge1", "birth"), encode(_birth("a"))) == 0
                update = ws.receive_json(timeout=10)  # through {prefix}-live/a: the hub's ACL allows it
                assert update["type"] == "update"
            wait_for(lambda: hub.get("/api/v1/stores/a/seats").json(), what="store a's seats")

            # the same credentials acting as store b: refused by the broker, nothing reaches the hub
            fake = _birth("b")
            assert edge_a.publish(topics.topic("b", "edge1", "birth"), encode(fake)) == NOT_AUTHORIZED
            delta = Delta(store_id="b", edge_id="edge1", boot_id=fake.boot_id, seq=2, ts=time.time(),
                          changes=[SeatSnapshot("s1", "occupied", time.time())])
            assert edge_a.publish(topics.topic("b", "edge1", "delta"), encode(delta)) == NOT_AUTHORIZED
            assert edge_a.publish(topics.topic("a", "edge2", "delta"), encode(delta)) == NOT_AUTHORIZED
            assert edge_a.publish(f"{prefix}-live/b", b'{"type": "update"}') == NOT_AUTHORIZED
            # Subscribing to another store's config (or everything) is granted by Mosquitto 2, but
            # its ACL delivers nothing it may not read: only a's own config arrives below.
            edge_a.subscribe(topics.topic("b", "edge1", "config"))
            edge_a.subscribe(f"{prefix}/#")
            edge_a.subscribe(f"{prefix}-live/#")
            assert edge_a.subscribe(topics.topic("a", "edge1", "config")) == 1
            time.sleep(1.0)
            r = hub.get("/api/v1/stores/b/seats")
            assert r.status_code == 200 and r.json() == []  # registered by `store add`, no data

            # the hub pushes configs to both stores' edges (its write right on config topics)
            seats = [{"seat_id": "s1", "channel": 1, "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}]
            for store in ("b", "a"):
                url = f"/api/v1/stores/{store}/edges/edge1/config"
                base = hub.get(url).json()["version"]
                assert hub.put(url, json={"seats": seats, "base_version": base}).status_code == 200
            msg = edge_a.got.get(timeout=10)
            assert msg.topic == topics.topic("a", "edge1", "config")
            time.sleep(1.0)
            others = []
            while not edge_a.got.empty():
                others.append(edge_a.got.get().topic)
            assert set(others) <= {topics.topic("a", "edge1", "config")}, others  # never b's, never live

            # store b's bundle works for b; re-bundling b rotates its password
            edge_b = Client(broker.port, "b.edge1", bundle_b["mqtt"]["password"])
            clients.append(edge_b)
            assert edge_b.accepted and edge_b.publish(topics.topic("b", "edge1", "birth"), encode(_birth("b"))) == 0
            run("store", "bundle", "b", "--broker-url", "mqtt://127.0.0.1", "--out", str(tmp_path / "bundle-b2"))
            run("broker-acl", "--out", str(files))
            broker.reload()
            old = Client(broker.port, "b.edge1", bundle_b["mqtt"]["password"])
            clients.append(old)
            assert not old.accepted
            new_pw = tomllib.loads((tmp_path / "bundle-b2" / "edge-bundle.toml").read_text())["mqtt"]["password"]
            new = Client(broker.port, "b.edge1", new_pw)
            clients.append(new)
            assert new.accepted
    finally:
        for c in clients:
            c.close()
        broker.stop()


def test_store_cli_errors_say_what_to_do(tmp_path):
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "h.sqlite"}"\n')
    runner = CliRunner()
    r = runner.invoke(cli, ["store", "bundle", "nope", "--broker-url", "mqtt://h", "--out", str(tmp_path / "o"),
                            "--config", str(cfg)])
    assert r.exit_code == 2 and "seat-hub store add nope" in r.output
    r = runner.invoke(cli, ["store", "add", "Bad Store", "--config", str(cfg)])
    assert r.exit_code == 2 and "invalid store id" in r.output
    r = runner.invoke(cli, ["store", "bundle", "x", "--broker-url", "http://h", "--out", str(tmp_path / "o"),
                            "--config", str(cfg)])
    assert r.exit_code == 2 and "mqtts://" in r.output
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert runner.invoke(cli, ["store", "add", "x", "--config", str(cfg)]).exit_code == 0
    r = runner.invoke(cli, ["store", "bundle", "x", "--broker-url", "mqtts://hub.example.com", "--ca", str(ca),
                            "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    bundle = tomllib.loads((tmp_path / "o" / "edge-bundle.toml").read_text())
    assert bundle["mqtt"]["tls"] is True and bundle["mqtt"]["port"] == 8883
    assert bundle["mqtt"]["ca_file"] == "/etc/seat-edge/ca.crt" and (tmp_path / "o" / "ca.crt").exists()
    # the edge accepts the bundle's sections as they are
    from edge_agent.settings import MqttSection

    assert msgspec.convert(bundle["mqtt"], MqttSection).tls is True
    from protocol.bundle import read_bundle  # the installer's reader (seat-edge install --bundle)

    b = read_bundle(tmp_path / "o")
    assert b.edge.store_id == "x" and b.mqtt.username == "x.edge1" and b.mqtt.tls
    out = runner.invoke(cli, ["store", "list", "--config", str(cfg)]).output
    assert "x.edge1" in out


def test_the_shipped_acl_example_is_what_broker_acl_writes():
    """packaging/seat.acl.example used to give the hub no rights on {prefix}-live/#, so dashboards
    behind a broker with that ACL stopped updating. It must match the generator (which the real
    broker test above runs)."""
    from hub.db.models import EdgeAccount
    from hub.stores.provision import acl_text

    def rules(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    acct = EdgeAccount(username="oryudong.edge1", store_id="oryudong", edge_id="edge1", password_hash="x",
                       created_at=0.0, rotated_at=0.0)
    generated = acl_text([acct], "seat-hub", TopicSpace("seat/v1"))
    shipped = (REPO / "packaging" / "seat.acl.example").read_text()
    assert rules(shipped) == rules(generated)
    assert "topic readwrite seat/v1-live/#" in rules(shipped)


def _make_certs(d: Path) -> None:
    """A private CA and a broker certificate for 127.0.0.1, with the openssl commands of the docs."""
    d.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.crt",
        "-subj", "/CN=seat test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-out", "broker.crt", "-extfile", "san.ext")


def test_tls_listener_from_the_shipped_config_carries_hub_and_edge(tmp_path):
    """The TLS setup of docs/security.md: the shipped listener block with a private CA; the hub
    (mqtt.tls + ca_file) and an edge with its bundle's TLS settings talk through it; plain MQTT
    to the TLS port and a client that does not trust the CA fail."""
    certs = tmp_path / "certs"
    _make_certs(certs)
    prefix = f"tls-{uuid.uuid4().hex[:8]}/seat/v1"
    topics = TopicSpace(prefix)
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "{db}"\n[mqtt]\ntopic_prefix = "{prefix}"\nusername = "seat-hub"\n'
                   f'password = "hub-secret-123"\ntls = true\nca_file = "{certs / "ca.crt"}"\n')
    runner = CliRunner()
    for args in (["store", "add", "a"],
                 ["store", "bundle", "a", "--broker-url", "mqtts://127.0.0.1", "--ca", str(certs / "ca.crt"),
                  "--out", str(tmp_path / "bundle")],
                 ["broker-acl", "--out", str(tmp_path / "mosq")]):
        r = runner.invoke(cli, [*args, "--config", str(cfg)])
        assert r.exit_code == 0, r.output
    bundle = tomllib.loads((tmp_path / "bundle" / "edge-bundle.toml").read_text())["mqtt"]
    assert bundle["tls"] is True and bundle["port"] == 8883
    broker = Mosquitto(tmp_path, tmp_path / "mosq", certs)
    clients: list[Client] = []
    try:
        settings = load_settings(cfg)
        settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=broker.tls_port))
        app = create_app(settings, migrate=True)
        with TestClient(app) as hub:
            wait_for(lambda: app.state.mqtt.ready(), what="hub subscribed over TLS (and per store)")
            admin_client(hub, db)
            edge = Client(broker.tls_port, "a.edge1", bundle["password"], ca=tmp_path / "bundle" / "ca.crt")
            clients.append(edge)
            assert edge.accepted
            assert edge.publish(topics.topic("a", "edge1", "birth"), encode(_birth("a"))) == 0
            wait_for(lambda: hub.get("/api/v1/stores/a/seats").json(), what="store a's seats over TLS")
        # plain MQTT on the TLS port: no CONNACK ever
        plain = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        plain.username_pw_set("a.edge1", bundle["password"])
        acks: list = []
        plain.on_connect = lambda c, u, f, rc, p: acks.append(rc)
        try:
            plain.connect("127.0.0.1", broker.tls_port)
            plain.loop_start()
            time.sleep(1.5)
            plain.loop_stop()
        except OSError:
            pass
        assert not acks
        # a client that does not trust the private CA cannot connect
        untrusting = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        untrusting.tls_set()  # system CAs only
        try:
            untrusting.connect("127.0.0.1", broker.tls_port)
            raise AssertionError("connected without trusting the CA")
        except (ssl.SSLError, OSError):
            pass
    finally:
        for c in clients:
            c.close()
        broker.stop()
