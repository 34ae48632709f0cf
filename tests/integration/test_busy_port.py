"""Issue 19 point 5: a second `seat-hub demo` or `seat-hub serve` started by mistake (same port,
or the same demo folder) stops with one clear line before touching anything, and the running
instance keeps its log, its broker config, its database and its MQTT session. Real processes,
real Mosquitto, real ports."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.hubproc import HubProcess
from tests.support.services import free_port

SEAT_HUB = Path(sys.executable).parent / "seat-hub"


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_second_serve_on_the_same_port_leaves_the_first_alone(tmp_path, broker):
    hub = HubProcess(tmp_path, broker, f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}").start()
    try:
        log_before = hub.log.read_text()
        assert "alembic" not in log_before, log_before  # no migration chatter on every start
        r = subprocess.run([str(SEAT_HUB), "serve", "--config", str(hub.config)], capture_output=True, text=True,
                           timeout=60)
        line = _one_line_error(r)
        assert f"port {hub.port}" in line and "already in use" in line and "--port" in line, line
        assert "dashboard at" not in r.stdout  # no URL of a hub that never started
        time.sleep(2)
        assert hub.ready()  # still serving, its MQTT session never taken over
        log_after = hub.log.read_text()
        assert log_after.startswith(log_before)
        assert "disconnect" not in log_after[len(log_before):].lower(), log_after[len(log_before):]
    finally:
        hub.kill()


@pytest.mark.slow
def test_second_demo_leaves_the_running_demo_alone(tmp_path):
    port = free_port()
    first = subprocess.Popen([str(SEAT_HUB), "demo", "--port", str(port), "--for", "90"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while "Edge log" not in (line := first.stdout.readline()):
            assert line, "the first demo ended early"
        work = tmp_path / "var" / "demo"
        time.sleep(3)
        conf, log = (work / "mosquitto.conf").read_bytes(), (work / "edge.log").read_bytes()
        # the same port from another folder, then the same folder on another port
        other = tmp_path / "elsewhere"
        other.mkdir()
        r = subprocess.run([str(SEAT_HUB), "demo", "--port", str(port), "--for", "5"], cwd=other,
                           capture_output=True, text=True, timeout=60)
        assert "already in use" in _one_line_error(r)
        assert not (other / "var" / "demo" / "mosquitto.conf").exists()
        r = subprocess.run([str(SEAT_HUB), "demo", "--port", str(free_port()), "--for", "5"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        line = _one_line_error(r)
        assert "another seat-hub demo is running" in line and str(first.pid) in line, line
        assert (work / "mosquitto.conf").read_bytes() == conf
        now = (work / "edge.log").read_bytes()
        assert now.startswith(log) and b"\x00" not in now  # not truncated, no hole of NULs
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        first.terminate()
        first.wait(60)
