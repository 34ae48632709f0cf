"""Issue 19 point 2: the one-machine trial of docs/installation.md, run command by command as
written (the code block is read from the file), on four free ports set in its first line and a
private Mosquitto started as its comment says: the hub shows the trial store's seat A-01 turning
occupied and empty again with nothing edited by hand. Also: what `store add` / `store bundle`
print about `broker-acl` is what the page says. Real hub, broker, RTSP, model, agent."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.hub_auth import login
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[2] / "docs" / "installation.md"
PASSWORD = "trial-admin-pass"


def trial_commands() -> list[str]:
    text = DOC.read_text()
    section = text[text.index("## Try it on one machine"):]
    block = section[section.index("```bash") + 7:]
    block = block[:block.index("```")]
    lines, cur = [], ""
    for raw in block.splitlines():
        line = raw.rstrip()
        cur += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(cur.strip())
            cur = ""
    # a trailing "  # comment" is for the reader (a whole-line comment is kept: one names a command)
    return [x if x.startswith("#") else re.split(r"\s+#\s", x)[0].strip() for x in lines if x]


def test_trial_store_changes_state_with_the_documented_commands_on_free_ports(tmp_path):
    cmds = trial_commands()
    assert cmds[0].startswith("HTTP=") and "MQTT=" in cmds[0]
    ports = {"HTTP": free_port(), "MQTT": free_port(), "RTSP": free_port(), "PAGE": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "HOME": str(tmp_path)}
    env.pop("SEAT_HUB_CONFIG", None)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the docs' ./.venv
    background: list[subprocess.Popen] = []
    outputs: dict[str, str] = {}

    def sh(cmd: str, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300, **kw)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        outputs[cmd] = r.stdout + r.stderr
        return r

    def bg(cmd: str, name: str) -> None:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - until the process ends
        background.append(subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=tmp_path, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    try:
        for cmd in cmds[1:]:
            if cmd.startswith("bash scripts/setup.sh"):
                continue  # the machine is set up already
            if cmd.startswith("#"):
                m = re.search(r"(mosquitto -p \$MQTT) &", cmd)
                if m:  # the trial's broker on a port of its own, as the comment says
                    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
                    bg(m.group(1).replace("mosquitto", exe, 1), "mosquitto")
                    time.sleep(1)
                continue
            if cmd.endswith("&"):
                bg(cmd[:-1].strip(), cmd.split()[0].split("/")[-1] + str(len(background)))
                time.sleep(3)
            elif "user add" in cmd:
                sh(cmd, input=f"{PASSWORD}\n{PASSWORD}\n")
            elif " run --config" in cmd:
                bg(cmd, "edge")
            else:
                sh(cmd)
        # The broker rule: what the commands print is what the page says.
        said = " ".join(v for k, v in outputs.items() if "store add" in k or "store bundle" in k)
        assert said.count("needs no broker-acl") == 2 and "broker-acl --out DIR" in said, said
        assert "needs none, so the trial skips it" in DOC.read_text()

        base = f"http://127.0.0.1:{ports['HTTP']}"
        seen: list[str] = []
        with httpx.Client(base_url=base, timeout=5) as client:
            login(client, "admin", PASSWORD)
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                r = client.get("/api/v1/stores/trial/seats")
                if r.status_code == 200:
                    a01 = next((s["state"] for s in r.json() if s["seat_id"] == "a01"), None)
                    if a01 and (not seen or seen[-1] != a01):
                        seen.append(a01)
                if "occupied" in seen and "empty" in seen[seen.index("occupied"):]:
                    break
                time.sleep(1)
        assert "occupied" in seen and "empty" in seen[seen.index("occupied"):], (
            seen, (tmp_path / "edge.log").read_text()[-3000:])
        page = httpx.get(f"http://127.0.0.1:{ports['PAGE']}/", timeout=5)
        assert page.status_code in (200, 303, 401)  # the staff page listens on its port
    finally:
        for p in reversed(background):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
