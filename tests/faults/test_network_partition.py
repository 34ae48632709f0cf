"""A real network partition between an edge and the broker: the edge's uplink runs in its own
network namespace, joined to the broker by a veth pair, and the test takes the link down for
12 s (packets dropped, no reset: what a dead switch or a cut cable looks like) while seats keep
changing, then brings it back. Every event arrives, none twice after the hub's dedupe on
(boot_id, seq). Needs root for ``ip netns``; skipped with the reason elsewhere (the TCP-gate
outage in tests/integration/test_uplink.py then stands in)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from protocol import Event
from tests.support.mqtt import Subscriber
from tests.support.services import free_port, wait_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import logging, sys, time
    sys.path.insert(0, {repo!r})
    from edge_agent.settings import parse_config
    from edge_agent.storage.db import EdgeStore
    from edge_agent.types import Transition
    from edge_agent.uplink import Uplink
    from protocol import Evidence, StateRules

    logging.basicConfig(level=logging.WARNING)
    data, host, port, prefix, count, pace = sys.argv[1:7]
    store = EdgeStore(data + "/edge.db")
    cfg = parse_config({{"edge": {{"store_id": "teststore", "edge_id": "edge1", "data_dir": data}},
                        "mqtt": {{"host": host, "port": int(port), "topic_prefix": prefix, "keepalive_s": 3}}}})
    up = Uplink(cfg, store, birth_factory=lambda: (1, [], store.load_states(), [], StateRules()),
                reconnect_delay=(0.2, 0.5))
    up.start()
    print("boot", up.boot_id, flush=True)
    for k in range(int(count)):
        t = Transition("S%d" % (k % 7), "empty", "occupied", 1_000_000.0 + k, Evidence())
        store.add_event(t)
        up.publish_event(t)
        print(k, "up" if up.connected else "down", flush=True)
        time.sleep(float(pace))
    ok = up.wait_drained(30)
    up.stop(5)
    sys.exit(0 if ok else 3)
    """
)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def netns():
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2)")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"seatp{tag}", f"vh{tag}", f"vn{tag}"
    net = random.randint(1, 250)
    host_ip, ns_ip = f"10.213.{net}.1", f"10.213.{net}.2"
    r = _ip("netns", "add", ns, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace here ({r.stderr.strip()})")
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns, host_if, host_ip
    finally:
        _ip("link", "del", host_if, check=False)
        _ip("netns", "del", ns, check=False)


@pytest.fixture
def partition_broker(netns, tmp_path):
    """Mosquitto listening on the veth address (for the edge) and on loopback (for the subscriber)."""
    _, _, host_ip = netns
    port, local = free_port(), free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} {host_ip}\nlistener {local} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nmax_queued_messages 1000000\n")
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert wait_port("127.0.0.1", local, 10)
    yield host_ip, port, local
    proc.terminate()
    proc.wait(10)


def test_partition_between_edge_and_broker_loses_and_duplicates_nothing(netns, partition_broker, tmp_path,
                                                                         capsys):
    ns, host_if, _ = netns
    host_ip, port, local = partition_broker
    prefix = f"test-{uuid.uuid4().hex[:8]}/seat/v1"
    sub = Subscriber("127.0.0.1", local, f"{prefix}/teststore/edge1/+").connect()
    child = tmp_path / "child.py"
    child.write_text(CHILD.format(repo=str(REPO)))
    (tmp_path / "data").mkdir()
    n = 300
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(child), str(tmp_path / "data"),
                             host_ip, str(port), prefix, str(n), "0.08"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO))
    lines: list[str] = []
    try:
        first = proc.stdout.readline()
        assert first.startswith("boot"), first + proc.stdout.read()[-2000:]
        while len(lines) < 40:
            lines.append(proc.stdout.readline())
        _ip("link", "set", host_if, "down")  # the partition
        cut = time.monotonic()
        while time.monotonic() - cut < 12:
            lines.append(proc.stdout.readline())
        _ip("link", "set", host_if, "up")
        healed = time.monotonic()
        rest, _ = proc.communicate(timeout=120)
        lines += rest.splitlines()
        assert proc.returncode == 0, "".join(lines[-20:])
        wait_for(lambda: len({e.at for e in sub.of(Event)}) >= n, timeout=30, what="every event at the subscriber")
        recovered_s = time.monotonic() - healed
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
    events = sub.of(Event)
    identities = {(e.boot_id, e.seq): e.at for e in events}
    ats = sorted(identities.values())
    assert ats == [1_000_000.0 + k for k in range(n)]  # every event, each under one identity
    saw_down = sum(1 for ln in lines if ln.strip().endswith("down"))
    assert saw_down > 0, "the uplink never noticed the partition"
    with capsys.disabled():
        print(f"\n[partition] {n} events, {saw_down} created while the uplink saw the link down, "
              f"redelivered {len(events) - len(identities)}, lost 0; all in {recovered_s:.1f} s after the link came back")
