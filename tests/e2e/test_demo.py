"""`seat-hub demo`, the README's main command, exactly as a new user runs it: it prints the
dashboard URL, the seats of the sample camera change state on their own within a minute, the
dashboard page shows them, and `--for` ends it with exit code 0."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.hub_auth import login
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_everything_and_seats_change_on_their_own(tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "seat-hub"
    proc = subprocess.Popen([str(exe), "demo", "--port", str(port), "--for", "50"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: dict[str, set[str]] = {}
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/stores/demo" in first, first
        deadline = time.monotonic() + 45
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            login_line = proc.stdout.readline()
            assert "Dashboard login: admin / demo-admin" in login_line, login_line
            login(client, "admin", "demo-admin")
            while time.monotonic() < deadline:
                r = client.get("/api/v1/stores/demo/seats")
                if r.status_code == 200:
                    for s in r.json():
                        seen.setdefault(s["seat_id"], set()).add(s["state"])
                if {"occupied", "empty"} <= seen.get("a01", set()):
                    break
                time.sleep(1)
            page = client.get("/stores/demo").text
        # a01: the student is there in one picture and gone in the other
        assert {"occupied"} < seen.get("a01", set()), seen
        assert seen.get("b01", set()) - {"unknown"} == {"occupied"}, seen  # the man who stays
        assert "A-01" in page and "B-02" in page and "사용 중" in page
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log = (tmp_path / "var" / "demo" / "edge.log").read_text()
    assert "sample camera over rtsp" in log, log[-2000:]
