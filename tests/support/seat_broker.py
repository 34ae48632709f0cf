"""A private Mosquitto started from the shipped ``packaging/mosquitto-seat.conf`` (with the files
``seat-hub broker-acl`` writes), and a small MQTT v5 client that records reason codes: shared by
the broker ACL tests and the hostile-edge fault tests."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.services import free_port, wait_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
NOT_AUTHORIZED = 135  # MQTT v5 reason code


class Mosquitto:
    def __init__(self, conf_dir: Path, files: Path, certs: Path | None = None, *, edge_listener: bool = False,
                 persistence: bool = False) -> None:
        """``certs``: the shipped edge listener block enabled as the docs say (TLS).
        ``edge_listener``: that block without its TLS lines (plain MQTT on ``tls_port``), to test
        the listener's other settings without certificates."""
        self.port = free_port()
        self.tls_port = free_port()
        self.conf_dir = conf_dir
        text = (REPO / "packaging" / "mosquitto-seat.conf").read_text()
        if certs is not None or edge_listener:  # the shipped edge listener block, enabled as the docs say
            text = text.replace("#listener 8883", f"listener {self.tls_port} 127.0.0.1")
            text = text.replace("#use_username_as_clientid ", "use_username_as_clientid ")
        if certs is not None:
            for key in ("certfile", "keyfile", "cafile", "tls_version"):
                text = text.replace(f"#{key} ", f"{key} ")
            text = text.replace("/etc/mosquitto/certs/", f"{certs}/")
        text = text.replace("/etc/mosquitto/seat/", f"{files}/").replace("listener 1883 127.0.0.1",
                                                                       f"listener {self.port} 127.0.0.1")
        if persistence:
            text = text.replace("persistence true", f"persistence true\npersistence_location {conf_dir}/")
        else:
            text = text.replace("persistence true", "persistence false")
        # As root Mosquitto drops to user mosquitto, which cannot enter pytest's private tmp dir
        # (in production broker-acl gives the files to group mosquitto: see test below).
        text += "\nuser root\n" if os.geteuid() == 0 else ""
        assert f"{files}/seat.acl" in text and f"listener {self.port}" in text  # the shipped file's shape
        self.conf = conf_dir / "mosquitto.conf"
        self.conf.write_text(text)
        self.edge_listener = certs is not None or edge_listener
        self.start()

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.log = (self.conf_dir / "mosquitto.log").open("a")
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_port("127.0.0.1", self.port, 10), (self.conf_dir / "mosquitto.log").read_text()
        if self.edge_listener:
            assert wait_port("127.0.0.1", self.tls_port, 10), (self.conf_dir / "mosquitto.log").read_text()

    def reload(self) -> None:
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.log.close()


class Client:
    """A paho MQTT v5 client that records PUBACK / SUBACK reason codes and received messages."""

    def __init__(self, port: int, username: str, password: str, ca: Path | None = None, *,
                 client_id: str | None = None) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        self.disconnects: list = []
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnects.append(rc)
        self.c.username_pw_set(username, password)
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca))  # what the edge's uplink does with tls = true, ca_file
        self.connect_rc: list = []
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.got: queue.Queue = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p: self.connect_rc.append(rc)
        self.c.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc.value)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, [r.value for r in rcs])
        self.c.on_message = lambda c, u, m: self.got.put(m)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        wait_for(lambda: self.connect_rc, what=f"CONNACK for {username}")

    @property
    def accepted(self) -> bool:
        return not self.connect_rc[0].is_failure

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        return wait_for(lambda: self.pubacks.get(info.mid) is not None and [self.pubacks[info.mid]],
                        what="PUBACK")[0]

    def subscribe(self, topic: str) -> int:
        _, mid = self.c.subscribe(topic, qos=1)
        return wait_for(lambda: self.subacks.get(mid), what="SUBACK")[0]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def provision(tmp_path: Path, prefix: str, stores: tuple[str, ...] = ("a", "b"), extra_hub_toml: str = "",
              db: str | None = None) -> dict:
    """The shipped setup, as docs/security.md has the operator do it: a hub.toml with the hub's
    broker account, `seat-hub store add` + `store bundle` per store, `seat-hub broker-acl`.
    ``db``: the hub's database URL (default: an SQLite file in ``tmp_path``).
    Returns the hub.toml path, the database URL, the broker files folder and each store's edge
    password (from its bundle)."""
    import tomllib

    from typer.testing import CliRunner

    from hub.cli.main import app as cli

    db = db or f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}"  # or the test's PostgreSQL
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[database]\nurl = "{db}"\n[mqtt]\ntopic_prefix = "{prefix}"\n'
                   f'username = "seat-hub"\npassword = "hub-secret-123"\n{extra_hub_toml}')
    runner = CliRunner()
    passwords = {}
    for store in stores:
        for args in (["store", "add", store], ["store", "bundle", store, "--broker-url", "mqtt://127.0.0.1",
                                                "--out", str(tmp_path / f"bundle-{store}")]):
            r = runner.invoke(cli, [*args, "--config", str(cfg)])
            assert r.exit_code == 0, r.output
        bundle = tomllib.loads((tmp_path / f"bundle-{store}" / "edge-bundle.toml").read_text())
        passwords[store] = bundle["mqtt"]["password"]
    r = runner.invoke(cli, ["broker-acl", "--out", str(tmp_path / "mosq"), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    return {"cfg": cfg, "db": db, "files": tmp_path / "mosq", "passwords": passwords,
            "db_file": tmp_path / "hub.sqlite"}
