"""Deployment pieces: `seat-hub serve` production options (real processes, PostgreSQL, Mosquitto),
the hub's systemd unit (systemd-analyze verify), and the compose file + Dockerfile.

Docker cannot run on this machine (no engine): the compose file is checked by parsing it and
following every file it refers to; it has NOT been started here.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli.main import app, check_serve_options
from hub.settings import load_settings, parse_settings
from tests.support.services import free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "packaging"
SEAT_HUB = Path(sys.executable).parent / "seat-hub"


def _serve(tmp_path: Path, name: str, toml: str, *args: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    conf = tmp_path / f"{name}.toml"
    conf.write_text(toml)
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen([str(SEAT_HUB), "serve", "--config", str(conf), "--port", str(port), *args],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    if not wait_port("127.0.0.1", port, 60):
        proc.kill()
        pytest.fail(f"seat-hub serve did not listen: {log.read_text()[-2000:]}")
    return proc, port, log


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _get(port: int, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def _wait_log(log: Path, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = log.read_text()
        if text in body:
            return body
        time.sleep(0.2)
    pytest.fail(f"{text!r} not in the log: {log.read_text()[-2000:]}")


def test_serve_with_workers_on_postgres_trusts_only_the_proxy(tmp_path, pg_url, broker):
    toml = (f'[database]\nurl = "{pg_url}"\n[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
            f'topic_prefix = "{broker.prefix}"\n')
    proxied = toml + '[http]\ntrusted_proxies = ["127.0.0.1"]\n'  # nginx on this host, as docs/security.md
    proc, port, log = _serve(tmp_path, "w2", proxied, "--workers", "2")
    try:
        for _ in range(4):
            assert _get(port, {"X-Forwarded-For": "203.0.113.7"}) == 200
        _wait_log(log, '203.0.113.7:0 - "GET /healthz')  # the proxy on 127.0.0.1 is trusted
        deadline = time.monotonic() + 60  # workers start one after another; this machine is slow
        while log.read_text().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        body = log.read_text()
        assert body.count("Started server process") == 2 and "2 worker(s)" in body, body[-2000:]
    finally:
        _stop(proc)
    # Another proxy address: the header is ignored, the real peer is logged.
    proc, port, log = _serve(tmp_path, "w1", toml, "--forwarded-allow-ips", "10.9.9.9")
    try:
        assert _get(port, {"X-Forwarded-For": "203.0.113.7"}) == 200
        body = _wait_log(log, '"GET /healthz')
        assert "203.0.113.7" not in body and '127.0.0.1:' in body.split('"GET /healthz')[0].splitlines()[-1]
    finally:
        _stop(proc)
    # No proxy configured (the default): the header is ignored too (issue 20: it used to be
    # believed from 127.0.0.1, so anyone on the host could rotate it past the login limit).
    proc, port, log = _serve(tmp_path, "w0", toml)
    try:
        assert _get(port, {"X-Forwarded-For": "203.0.113.7"}) == 200
        body = _wait_log(log, '"GET /healthz')
        assert "203.0.113.7" not in body and '127.0.0.1:' in body.split('"GET /healthz')[0].splitlines()[-1]
    finally:
        _stop(proc)


def test_serve_refuses_worker_setups_that_cannot_work(tmp_path):
    assert "needs PostgreSQL" in check_serve_options(parse_settings(""), 2)
    pg = 'database.url = "postgresql+asyncpg://x@h/db"\n'
    assert check_serve_options(parse_settings(pg), 2) is None
    assert "client_id" in check_serve_options(parse_settings(pg + '[mqtt]\nclient_id = "hub-1"\n'), 2)
    r = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert r.exit_code == 2 and "needs PostgreSQL" in r.output


def test_hub_unit_is_hardened_and_verifies(tmp_path):
    text = (PACK / "seat-hub.service").read_text()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string(text)
    svc = unit["Service"]
    assert svc["User"] == "seat-hub" and svc["Restart"] == "on-failure"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict" and svc["MemoryMax"]
    argv = svc["ExecStart"].split()
    assert argv[1:3] == ["serve", "--config"] and "--workers" in argv
    # The options in the unit are ones `seat-hub serve` has.
    import typer.main

    known = {o for p in typer.main.get_command(app).commands["serve"].params for o in p.opts}
    for opt in (a for a in argv if a.startswith("--")):
        assert opt in known, opt
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd (scripts/setup.sh)")
    # Verify with this venv's seat-hub in place of /opt/seat-hub (not installed on this machine).
    local = tmp_path / "seat-hub.service"
    local.write_text(text.replace("/opt/seat-hub/.venv/bin/seat-hub", str(SEAT_HUB)))
    v = subprocess.run([exe, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and not (v.stdout + v.stderr).strip(), v.stdout + v.stderr


def test_mosquitto_configs_point_at_the_acl_and_password_files():
    # packaging/mosquitto-seat.conf is the access-control issue's (TLS listener commented out until
    # certificates exist); the compose stack's own copy has TLS on.
    for conf, prefix, tls in ((PACK / "mosquitto-seat.conf", "/etc/mosquitto/seat/", False),
                              (PACK / "compose" / "mosquitto.conf", "/mosquitto/config/", True)):
        lines = [x.split() for x in conf.read_text().splitlines() if x.strip() and not x.startswith("#")]
        opts = {x[0]: x[1:] for x in lines}
        assert opts["allow_anonymous"] == ["false"]
        assert opts["password_file"] == [prefix + "seat.passwd"] and opts["acl_file"] == [prefix + "seat.acl"]
        # Per client = per store (the hub reads each store in its own session, ADR 0006): the queue
        # must outlast half an hour of hub outage at a store's 5 messages/s, yet stay bounded so one
        # flooding store cannot make the broker hold without end.
        assert 5 * 1800 <= int(opts["max_queued_messages"][0]) <= 100_000
        assert 0 < int(opts["max_queued_bytes"][0]) <= 64_000_000
        assert int(opts["max_packet_size"][0]) >= 1_048_576  # the protocol's payload limit fits
        assert (["listener", "8883"] in lines and "certfile" in opts) == tls


def test_compose_file_structure():
    doc = yaml.safe_load((PACK / "compose.yaml").read_text())
    svc = doc["services"]
    assert set(svc) == {"db", "mqtt", "hub"}
    assert svc["db"]["image"].startswith("postgres:") and "healthcheck" in svc["db"]
    assert svc["mqtt"]["image"].startswith("eclipse-mosquitto:2")
    hub = svc["hub"]
    assert hub["depends_on"]["db"]["condition"] == "service_healthy"
    assert (PACK / hub["build"]["context"] / hub["build"]["dockerfile"]).resolve() == PACK / "Dockerfile"
    assert hub["ports"] == ["127.0.0.1:8080:8080"]  # the dashboard only behind a proxy
    named = set(doc.get("volumes") or {})
    operator_supplied = {"seat.passwd", "seat.acl", "certs"}  # made at HQ, never in the repository
    mounts = {}
    for s in svc.values():
        for v in s.get("volumes", []):
            src, dst = v.split(":")[:2]
            mounts[dst] = src
            if src in named:
                continue
            p = (PACK / src).resolve()
            assert p.exists() or p.name in operator_supplied, f"compose mounts {src}, which does not exist"
    # The hub inside the stack: its settings parse and point at the stack's services.
    hub_toml = PACK / mounts["/etc/seat-hub/hub.toml"]
    s = load_settings(hub_toml)
    assert "@db:5432/" in s.database.url and s.mqtt.host == "mqtt" and s.http.host == "0.0.0.0"
    assert doc["services"]["db"]["environment"]["POSTGRES_USER"] in s.database.url
    # The Dockerfile starts `seat-hub serve` with that file and installs the hub extras.
    docker = (PACK / "Dockerfile").read_text()
    assert 'pip install ".[hub]"' in docker and "USER seat-hub" in docker
    cmd = next(x for x in docker.splitlines() if x.startswith("CMD "))
    assert '"seat-hub", "serve", "--config", "/etc/seat-hub/hub.toml"' in cmd
    for copied in (x.split()[1] for x in docker.splitlines() if x.startswith("COPY ")):
        assert (REPO / copied).exists(), copied
