"""End to end with every part real: GStreamer RTSP server -> `seat-edge run` (OpenCV capture, the
real person model on the CPU, SQLite, paho) -> Mosquitto -> `seat-hub serve` -> PostgreSQL -> API.

A seat drawn around a seated student becomes occupied in the hub's API, a seat on a desk nobody
uses stays empty; then the served picture changes (the student has left) and the hub follows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edge_agent.demo.layout import DEMO_PICTURES, DEMO_SEATS, OFFLINE_PERSON_CLASSES
from edge_agent.demo.rtsp_server import RtspServerUnavailable, RtspTestServer
from tests.support.hub_auth import create_user, login
from tests.support.services import free_port, wait_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent


def _polygon(seat) -> str:
    return "[" + ", ".join(f"[{x}, {y}]" for x, y in seat.polygon) + "]"


def write_edge_toml(path: Path, *, data_dir: Path, broker, rtsp_url: str, weights: Path) -> None:
    seats = [s for s in DEMO_SEATS if s.channel == 1]
    text = f"""
config_version = 1
[edge]
store_id = "e2e"
edge_id = "edge1"
data_dir = "{data_dir}"
sample_interval_s = 1.0
[mqtt]
host = "{broker.host}"
port = {broker.port}
topic_prefix = "{broker.prefix}"
[model]
weights = "{weights}"
person_classes = {OFFLINE_PERSON_CLASSES!r}
item_classes = []
conf = 0.4
[state]
enter_s = 2.0
exit_s = 3.0
abandoned_after_s = 600.0
stale_after_s = 10.0
[local_ui]
enabled = false
[[channels]]
id = 1
url = "{rtsp_url}"
name = "reading room"
"""
    for s in seats:
        text += f'\n[[seats]]\nseat_id = "{s.seat_id}"\nchannel = 1\nlabel = "{s.label}"\npolygon = {_polygon(s)}\n'
    path.write_text(text.replace("'", '"'))


def write_hub_toml(path: Path, *, pg_url: str, broker, http_port: int) -> None:
    path.write_text(f"""
edge_timeout_s = 60
[database]
url = "{pg_url}"
[mqtt]
host = "{broker.host}"
port = {broker.port}
topic_prefix = "{broker.prefix}"
[http]
host = "127.0.0.1"
port = {http_port}
""")


def seat_states(client: httpx.Client) -> dict[str, str]:
    r = client.get("/api/v1/stores/e2e/seats")
    if r.status_code != 200:
        return {}
    body = r.json()
    rows = body["seats"] if isinstance(body, dict) else body
    return {row["seat_id"]: row["state"] for row in rows}


def wait_for(pred, timeout: float, what: str, procs: list[subprocess.Popen], logs: list[Path]):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p, log in zip(procs, logs):
            if p.poll() is not None:
                pytest.fail(f"{log.name} process exited ({p.returncode}):\n{log.read_text()[-3000:]}")
        last = pred()
        if last:
            return last
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2500:]}" for log in logs)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tails}")


def test_seat_states_flow_from_camera_to_hub_api(tmp_path, broker, pg_url, person_model_path):
    try:
        rtsp = RtspTestServer(channels=1, width=640, height=360, fps=5)
    except RtspServerUnavailable as exc:
        pytest.fail(str(exc))
    student, left = DEMO_PICTURES[1]
    rtsp.set_image(1, student)
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []
    try:
        rtsp.start()
        http_port = free_port()
        write_hub_toml(tmp_path / "hub.toml", pg_url=pg_url, broker=broker, http_port=http_port)
        write_edge_toml(tmp_path / "edge.toml", data_dir=tmp_path / "edge-data", broker=broker,
                        rtsp_url=rtsp.url(1), weights=person_model_path)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name, cmd in (
            ("hub.log", [str(BIN / "seat-hub"), "serve", "--config", str(tmp_path / "hub.toml")]),
            ("edge.log", [str(BIN / "seat-edge"), "run", "--config", str(tmp_path / "edge.toml")]),
        ):
            log = tmp_path / name
            logs.append(log)
            procs.append(subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env))
        assert wait_port("127.0.0.1", http_port, 60), (tmp_path / "hub.log").read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as client:
            wait_for(lambda: client.get("/healthz").status_code == 200, 30, "hub /healthz", procs, logs)
            create_user(pg_url, "admin", "admin")  # `seat-hub serve` migrated the database
            login(client, "admin")
            # The student's seat becomes occupied, the unused desk is empty (not unknown).
            wait_for(lambda: seat_states(client) == {"a01": "occupied", "a02": "empty"}, 90,
                     "a01 occupied and a02 empty", procs, logs)
            stores = client.get("/api/v1/stores").json()
            assert "e2e" in str(stores)

            # The student leaves: the hub follows; the other seat stays empty throughout.
            rtsp.set_image(1, left)
            states = wait_for(lambda: (s := seat_states(client)).get("a01") in ("empty", "away") and s,
                              60, "a01 to leave occupied", procs, logs)
            assert states["a02"] == "empty"

            # And back: the hub sees the seat occupied again.
            rtsp.set_image(1, student)
            wait_for(lambda: seat_states(client).get("a01") == "occupied", 60, "a01 occupied again", procs, logs)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        rtsp.close()
