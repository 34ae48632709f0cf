"""`seat-hub demo` as a new user runs it, kiosk side (issue 18): within two minutes the store page
shows the floor plan with camera and kiosk states and at least one reconciliation alert (the fake
GoSca's seats disagree with the sample camera on purpose); no customer name of the fake kiosk
ends up in the demo's database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.kiosk.fake_gosca import FAKE_NAMES
from tests.support.hub_auth import login
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_shows_floor_plan_and_a_reconciliation_alert_within_two_minutes(tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "seat-hub"
    t0 = time.monotonic()
    proc = subprocess.Popen([str(exe), "demo", "--port", str(port), "--for", "200"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        while len(lines) < 10 and not any("Kiosk (fake GoSca, real HTTP)" in x for x in lines):
            lines.append(proc.stdout.readline())
        assert any("Kiosk (fake GoSca, real HTTP)" in x for x in lines), lines
        alerts: list = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            login(client, "admin", "demo-admin")
            while time.monotonic() - t0 < 120:
                r = client.get("/api/v1/alerts", params={"store_id": "demo", "open": "true"})
                alerts = [a for a in r.json() if a["kind"].startswith("kiosk_")] if r.status_code == 200 else []
                if alerts:
                    break
                time.sleep(2)
            took = time.monotonic() - t0
            assert alerts, "no reconciliation alert within two minutes of starting the demo"
            page = client.get("/stores/demo").text
            kiosk = client.get("/api/v1/stores/demo/kiosk").json()
        assert 'id="floor-plan"' in page and "has-alert" in page and "kiosk-in_use" in page
        assert kiosk["known"] and sum(1 for s in kiosk["seats"] if s["camera_seat_id"]) == 4
        print(f"first reconciliation alert {took:.0f} s after `seat-hub demo` started: "
              f"{[(a['kind'], a['seat_id']) for a in alerts]}")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "var" / "demo").glob("hub.sqlite*"))
    assert b"A-1-1" in raw
    for name in FAKE_NAMES:
        assert name.encode() not in raw, name
