"""A real ``seat-hub serve`` stopped with SIGTERM (systemd, ``docker stop``) leaves no process
behind: the statistics worker pool (hub/stats/api.py) is shut down on the app's shutdown, and
its workers die with their parent even when it is SIGKILLed (PR_SET_PDEATHSIG). Before the fix
the worker(s) and multiprocessing's resource tracker outlived the hub (orphans of ~100 MB each
after a benchmark)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.hubproc import HubProcess
from tests.support.procs import cmdline, descendants, kill_all, wait_gone
from tests.support.waiting import wait_for


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stats_workers_end_with_the_hub(tmp_path, broker, pg_url, sim, sig):
    hub = HubProcess(tmp_path, broker, pg_url).start()
    children: set[int] = set()
    try:
        edge = sim()
        edge.birth({"s0": "empty", "s1": "occupied"})
        wait_for(lambda: hub.get("/api/v1/stores/store-a/seats").status_code == 200, what="birth stored")
        r = hub.get("/api/v1/stores/store-a/stats", params={"bucket": "hour"}, timeout=60)
        assert r.status_code == 200, r.text  # computed in the worker process: it runs now
        children = descendants(hub.proc.pid)
        assert any("multiprocessing" in cmdline(p) for p in children), [cmdline(p) for p in children]
        hub.kill(sig)
        left = wait_gone(children, 15)
        assert not left, f"left running after {sig.name}: {[cmdline(p) for p in left]}"
        if sig == signal.SIGTERM:
            # uvicorn re-raises SIGTERM after its graceful shutdown (so the exit status is -15): the
            # re-raised signal skips atexit, which is why the app's shutdown must stop the pool.
            assert hub.proc.returncode in (0, -signal.SIGTERM), hub.log.read_text()[-2000:]
            assert "Application shutdown complete" in hub.log.read_text()
    finally:
        hub.kill(signal.SIGKILL)
        kill_all(children)
