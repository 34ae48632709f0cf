"""A real ``seat-hub serve`` SIGKILLed in the middle of a stream of events, then started again with
the same settings file: every event is in the database exactly once. With the default settings
(before the fix: a random client id and no session) the broker forgot the hub at once, so what it
had received but not committed, and everything sent while it was down, was lost for good."""

from __future__ import annotations

import signal
import threading
import time

from tests.support.hubproc import HubProcess
from tests.support.waiting import wait_for


def test_default_settings_lose_nothing_when_the_hub_is_sigkilled(tmp_path, broker, pg_url, sim):
    hub = HubProcess(tmp_path, broker, pg_url).start()
    try:
        edge = sim()
        edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
        wait_for(lambda: hub.get("/api/v1/stores/store-a/seats").status_code == 200, what="birth stored")
        n = 300
        t = time.time()
        sent = threading.Event()

        def stream() -> None:
            for i in range(n):
                frm, to = ("empty", "occupied") if i % 2 == 0 else ("occupied", "empty")
                edge.event(f"s{i % 3}", frm, to, at=t + i * 0.01)
                time.sleep(0.005)
            sent.set()

        th = threading.Thread(target=stream)
        th.start()
        wait_for(lambda: len(hub.events()) >= 30, what="ingest under way")
        hub.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        th.join(60)
        assert sent.is_set()
        hub.start()
        events = wait_for(lambda: (ev := hub.events()) and len(ev) >= n and ev, timeout=30,
                          what=f"all {n} events after the restart")
        recovered_s = time.monotonic() - killed_at
        seqs = sorted(e["at"] for e in events)
        assert len(events) == n and len(set(seqs)) == n  # nothing lost, nothing twice
        print(f"hub SIGKILL: all {n} events stored once, {recovered_s:.1f} s from the kill")
    finally:
        hub.kill(signal.SIGTERM)  # the restarted hub must not outlive the test

def test_default_client_id_is_stable_per_host_and_port():
    import msgspec

    from hub.settings import HubSettings, mqtt_client_id

    s = HubSettings()
    assert s.mqtt.session_expiry_s > 0  # the safe session is the default
    assert mqtt_client_id(s) == mqtt_client_id(HubSettings())  # the same after a restart
    other = msgspec.structs.replace(s, http=msgspec.structs.replace(s.http, port=8081))
    assert mqtt_client_id(other) != mqtt_client_id(s)  # a second replica on the host
    fresh = msgspec.structs.replace(s, mqtt=msgspec.structs.replace(s.mqtt, session_expiry_s=0))
    assert mqtt_client_id(fresh) != mqtt_client_id(fresh)  # no session to resume: random


def test_workers_take_stable_numbered_client_ids(tmp_path):
    """`seat-hub serve --workers N`: each worker a slot of the default id; a restarted worker
    (its predecessor dead, the lock released) takes the same slot and so resumes its session."""
    from hub.cli import main as cli

    a = cli.claim_worker_slot("seat-hub-h-8080", 2, tmp_path)
    b = cli.claim_worker_slot("seat-hub-h-8080", 2, tmp_path)
    assert (a, b) == ("seat-hub-h-8080-w0", "seat-hub-h-8080-w1")
    first = next(f for f in cli._slot_locks if f.name.endswith("-w0.lock"))
    first.close()  # the worker holding slot 0 dies
    cli._slot_locks.remove(first)
    assert cli.claim_worker_slot("seat-hub-h-8080", 2, tmp_path) == "seat-hub-h-8080-w0"
    for f in cli._slot_locks:
        f.close()
    cli._slot_locks.clear()
