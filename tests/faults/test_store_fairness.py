"""Issue 20, item 5: one noisy store must not delay the others.

Before: the hub read every store through one MQTT session, and the broker queues a session's
messages in one FIFO: 100k valid events from one store moved another store's median latency from
0.01 s to 16.8 s; 100 valid 1000-seat births delayed it by 27 s. Now each store has its own
session at the broker (``hub/mqtt/lanes.py``), the hub takes batches round robin with a budget per
store (``hub/mqtt/fair.py``), and the broker bounds what one client may have queued.

Real parts: Mosquitto with the shipped ``packaging/mosquitto-seat.conf`` and the files
``seat-hub broker-acl`` writes, a real ``seat-hub serve`` process on PostgreSQL with default
settings, the flooding edge in its own process (``tests/support/flood_edge.py``), both edges on
the edge listener with their own bundle's credentials. Latency is publish-to-stored: from the calm
edge's publish to its receipt of the hub's ``Stored`` confirmation (sent after the commit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol import Birth, ChannelDef, Event, SeatDef, SeatSnapshot, Stored, TopicSpace, decode, encode
from tests.support.seat_broker import Mosquitto, provision
from tests.support.services import free_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
SEAT_HUB = Path(sys.executable).parent / "seat-hub"
CALM_RATE_HZ = 20


class CalmEdge:
    """A store publishing events at a normal rate; records publish-to-stored per event."""

    def __init__(self, port: int, prefix: str, password: str, store: str = "calm") -> None:
        self.topics, self.store = TopicSpace(prefix), store
        self.boot = uuid.uuid4().hex
        self.seq = 1
        self.sent: dict[int, float] = {}
        self.stored: dict[int, float] = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{store}.edge1", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(f"{store}.edge1", password)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe(self.topics.topic(store, "edge1", "stored"), qos=1)
        seats = [SeatDef(seat_id="s0", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
        now = time.time()
        self.birth = encode(Birth(store_id=store, edge_id="edge1", boot_id=self.boot, seq=1, ts=now,
                                  config_version=1, seats=seats, channels=[ChannelDef(1)],
                                  states=[SeatSnapshot("s0", "empty", now)]))

    def _on_message(self, c, u, m) -> None:
        now = time.time()
        msg = decode(m.payload)
        if isinstance(msg, Stored) and msg.boot_id == self.boot:
            with self.lock:
                for lo, hi in msg.seqs:
                    for s in range(lo, hi + 1):
                        self.stored.setdefault(s, now)

    def send_event(self) -> int:
        self.seq += 1
        seq = self.seq
        a, b = ("empty", "occupied") if seq % 2 == 0 else ("occupied", "empty")
        now = time.time()
        payload = encode(Event(store_id=self.store, edge_id="edge1", boot_id=self.boot, seq=seq, ts=now,
                               seat_id="s0", from_state=a, to_state=b, at=now))
        with self.lock:
            self.sent[seq] = now
        self.c.publish(self.topics.topic(self.store, "edge1", "event"), payload, qos=1)
        return seq

    def warm_up(self) -> None:
        """Birth and one event until the hub confirms it (its session for this store is open)."""
        deadline = time.time() + 30
        while time.time() < deadline:
            self.c.publish(self.topics.topic(self.store, "edge1", "birth"), self.birth, qos=1)
            seq = self.send_event()
            t_end = time.time() + 2
            while time.time() < t_end:
                if seq in self.stored:
                    return
                time.sleep(0.05)
        raise AssertionError(f"the hub never confirmed {self.store}'s first event")

    def latencies(self, seqs: list[int]) -> list[float]:
        with self.lock:
            return sorted(self.stored.get(s, float("inf")) - self.sent[s] for s in seqs)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * p))]


@pytest.fixture
def shipped_hub(tmp_path, pg_url):
    prefix = f"fair-{uuid.uuid4().hex[:8]}/seat/v1"
    setup = provision(tmp_path, prefix, stores=("flood", "calm"), db=pg_url)
    broker = Mosquitto(tmp_path, setup["files"], edge_listener=True)
    http_port = free_port()
    cfg = setup["cfg"]
    # the operator's hub.toml: the broker account, nothing tuned
    cfg.write_text(cfg.read_text().replace("[mqtt]\n", f"[mqtt]\nport = {broker.port}\n")
                   + f"\n[http]\nport = {http_port}\n")
    log = tmp_path / "hub.log"
    with open(log, "a") as out:
        proc = subprocess.Popen([str(SEAT_HUB), "serve", "--config", str(cfg), "--log-level", "info"],
                                stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"seat-hub exited: {log.read_text()[-3000:]}")
        try:
            r = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("mqtt") == "connected"

    try:
        wait_for(ready, timeout=60, what="seat-hub serve")
        yield {**setup, "broker": broker, "prefix": prefix, "http_port": http_port, "log": log, "tmp": tmp_path,
               "hub_pid": proc.pid}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        broker.stop()


def _flood(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.flood_edge", "--port", str(env["broker"].tls_port), "--prefix",
         env["prefix"], "--store", "flood", f"--password={env['passwords']['flood']}", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _measure(env, flood: subprocess.Popen, calm: CalmEdge, window_s: float) -> tuple[list[float], dict]:
    """Calm events at CALM_RATE_HZ while the flood runs (at most ``window_s``), then their latencies.
    Also the peak memory of the broker and the hub during the flood (both must stay bounded)."""
    seqs: list[int] = []
    t0 = time.time()
    peak = {"broker_mb": 0.0, "hub_mb": 0.0}
    while time.time() - t0 < window_s:
        seqs.append(calm.send_event())
        if len(seqs) % 10 == 0:
            peak["broker_mb"] = max(peak["broker_mb"], _rss_mb(env["broker"].proc.pid))
            peak["hub_mb"] = max(peak["hub_mb"], _rss_mb(env["hub_pid"]))
        time.sleep(1 / CALM_RATE_HZ)
    wait_for(lambda: all(s in calm.stored for s in seqs), timeout=120,
             what=f"the calm store's events confirmed ({sum(s in calm.stored for s in seqs)} of {len(seqs)})")
    out, err = flood.communicate(timeout=330)
    assert flood.returncode == 0, err[-3000:]
    return calm.latencies(seqs), {**json.loads(out.strip().splitlines()[-1]),
                                  **{k: round(v) for k, v in peak.items()}}


def _stored_events(pg_url: str, store: str) -> int:
    import asyncio

    import asyncpg

    async def q() -> int:
        conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return await conn.fetchval("SELECT count(*) FROM seat_events WHERE store_id = $1", store)
        finally:
            await conn.close()

    return asyncio.run(q())


def test_a_store_flooding_events_does_not_delay_another_store_and_loses_nothing(shipped_hub, pg_url):
    env = shipped_hub
    calm = CalmEdge(env["broker"].tls_port, env["prefix"], env["passwords"]["calm"])
    try:
        calm.warm_up()
        flood = _flood(env, "--kind", "events", "--count", "200000", "--seconds", "25", "--settle", "240")
        time.sleep(1.0)  # the flood is under way
        lat, flood_out = _measure(env, flood, calm, window_s=25)
    finally:
        calm.close()
    p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
    print(f"\ncalm store during an event flood: n={len(lat)} p50={p50:.3f}s p95={p95:.3f}s max={lat[-1]:.3f}s; "
          f"flood: {flood_out}")
    assert p95 < 1.0, f"p95 {p95:.2f} s (p50 {p50:.2f} s)"
    assert flood_out["broker_mb"] < 100, flood_out  # the flood's backlog is bounded at the broker
    # the per-store rate is in /metrics (public, no store data but counts)
    text = httpx.get(f"http://127.0.0.1:{env['http_port']}/metrics", timeout=5).text
    rates = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
             if line.startswith("seat_hub_store_messages_total{")}
    assert rates["calm"] >= len(lat) and rates["flood"] >= flood_out["sent"], rates
    # nothing of the flooding store is lost in the end: what the broker dropped was sent again
    assert flood_out["confirmed"] == flood_out["sent"], flood_out
    assert _stored_events(pg_url, "flood") == flood_out["sent"]


def test_a_store_flooding_large_births_does_not_delay_another_store(shipped_hub):
    env = shipped_hub
    calm = CalmEdge(env["broker"].tls_port, env["prefix"], env["passwords"]["calm"])
    try:
        calm.warm_up()
        flood = _flood(env, "--kind", "births", "--count", "100", "--seats", "1000", "--seconds", "30",
                       "--settle", "120")
        time.sleep(1.0)
        lat, flood_out = _measure(env, flood, calm, window_s=30)
    finally:
        calm.close()
    p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
    print(f"\ncalm store during a flood of 1000-seat births: n={len(lat)} p50={p50:.3f}s p95={p95:.3f}s "
          f"max={lat[-1]:.3f}s; flood: {flood_out}")
    assert p95 < 1.0, f"p95 {p95:.2f} s (p50 {p50:.2f} s)"


def test_a_store_added_while_the_hub_runs_gets_its_own_session(tmp_path):
    """The lanes follow the stores table: `seat-hub store add` + bundle + broker-acl while the hub
    runs, and the new store's messages are stored within mqtt.store_poll_s."""
    import msgspec
    from litestar.testing import TestClient
    from typer.testing import CliRunner

    from hub.app import create_app
    from hub.cli.main import app as cli
    from hub.settings import load_settings

    prefix = f"fair-{uuid.uuid4().hex[:8]}/seat/v1"
    setup = provision(tmp_path, prefix, stores=("a",))
    broker = Mosquitto(tmp_path, setup["files"], edge_listener=True)
    settings = load_settings(setup["cfg"])
    settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(
        settings.mqtt, port=broker.port, store_poll_s=0.5))
    app = create_app(settings, migrate=True)
    try:
        with TestClient(app):
            lanes = app.state.mqtt.lanes
            assert lanes is not None  # the hub logs in: one session per store
            wait_for(lambda: lanes.subscribed("a"), what="store a's session")
            runner = CliRunner()
            for args in (["store", "add", "late"], ["store", "bundle", "late", "--broker-url", "mqtt://127.0.0.1",
                                                     "--out", str(tmp_path / "bundle-late")],
                         ["broker-acl", "--out", str(setup["files"])]):
                r = runner.invoke(cli, [*args, "--config", str(setup["cfg"])])
                assert r.exit_code == 0, r.output
            broker.reload()
            wait_for(lambda: lanes.subscribed("late"), timeout=10, what="the new store's session")
            import tomllib

            password = tomllib.loads((tmp_path / "bundle-late" / "edge-bundle.toml").read_text())["mqtt"]["password"]
            late = CalmEdge(broker.tls_port, prefix, password, store="late")
            try:
                late.warm_up()  # its birth and first event stored and confirmed
            finally:
                late.close()
    finally:
        broker.stop()


def test_store_sessions_are_kept_while_the_hub_is_down(tmp_path):
    """Each store's session outlives a hub restart (stable client id + session expiry), as the one
    shared session did: what a store sends while the hub is down waits in its own queue."""
    import msgspec
    from litestar.testing import TestClient

    from hub.app import create_app
    from hub.settings import load_settings

    prefix = f"fair-{uuid.uuid4().hex[:8]}/seat/v1"
    setup = provision(tmp_path, prefix, stores=("a", "b"))
    broker = Mosquitto(tmp_path, setup["files"], edge_listener=True)
    settings = load_settings(setup["cfg"])
    settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=broker.port))
    edges = {s: CalmEdge(broker.tls_port, prefix, setup["passwords"][s], store=s) for s in ("a", "b")}
    try:
        app = create_app(settings, migrate=True)
        with TestClient(app):
            for e in edges.values():
                e.warm_up()
        sent = {s: [e.send_event() for _ in range(50)] for s, e in edges.items()}  # the hub is down
        time.sleep(1.0)
        assert not any(seq in e.stored for s, e in edges.items() for seq in sent[s])
        app2 = create_app(settings, migrate=False)
        with TestClient(app2):
            for s, e in edges.items():
                wait_for(lambda e=e, s=s: all(seq in e.stored for seq in sent[s]), timeout=30,
                         what=f"store {s}'s events from its kept session")
    finally:
        for e in edges.values():
            e.close()
        broker.stop()
