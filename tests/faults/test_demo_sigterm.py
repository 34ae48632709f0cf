"""`seat-hub demo` stopped with SIGTERM (systemd, `docker stop`, `kill`) takes its broker, its edge
and the edge's RTSP sample camera with it. Before the fix SIGTERM ended the Python process at once:
no ``finally``, so Mosquitto and the edge kept running (and kept the ports)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.procs import cmdline, descendants, kill_all, wait_gone
from tests.support.services import free_port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_signal_stops_demo_and_every_child(tmp_path, sig):
    # SIGKILL cannot be handled: the children have PR_SET_PDEATHSIG and stop on their own.
    port = free_port()
    exe = Path(sys.executable).parent / "seat-hub"
    proc = subprocess.Popen([str(exe), "demo", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: set[int] = set()
    try:
        assert "Dashboard:" in proc.stdout.readline()
        deadline = time.monotonic() + 30
        # broker, edge, and the edge's RTSP server (a grandchild)
        while time.monotonic() < deadline:
            children = descendants(proc.pid)
            names = " ".join(cmdline(p) for p in children)
            if "mosquitto" in names and "edge_agent.cli" in names and len(children) >= 3:
                break
            time.sleep(0.2)
        assert "mosquitto" in names and "edge_agent.cli" in names, names
        t0 = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(30)
        watched = children
        if sig == signal.SIGKILL and os.geteuid() == 0:
            # Mosquitto started as root switches to the mosquitto user, which clears the parent-death
            # signal (prctl(2)); as a normal user (how the demo is meant to run) it stops as well.
            broker = {p for p in children if "mosquitto" in cmdline(p)}
            watched = children - broker
            kill_all(broker)
        left = wait_gone(watched, 20)
        stopped_s = time.monotonic() - t0
        assert not left, f"left running after {sig.name}: {[cmdline(p) for p in left]}"
        if sig == signal.SIGTERM:
            assert rc == 0, proc.stdout.read()[-2000:]
        print(f"demo stopped with all {len(children)} children {stopped_s:.1f} s after {sig.name}")
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(children)
