"""PostgreSQL itself restarts (pg_ctl stop -m fast, a few seconds down, start) while an edge keeps
sending: a private cluster of the test's own, the real hub app, real Mosquitto. The writer holds
its batch and retries, the broker keeps the rest (nothing is acknowledged before its commit); at
the end every event is stored exactly once. tests/integration/test_ingest_durability.py covers the
connection cut (pg_terminate_backend) on the machine's server."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.private_pg import PrivatePostgres
from tests.support.services import ServiceUnavailable
from tests.support.waiting import wait_for


@pytest.fixture
def private_pg():
    try:
        pg = PrivatePostgres()
        pg.start()
    except ServiceUnavailable as exc:
        pytest.fail(str(exc))
    yield pg
    pg.close()


def _events(client) -> list[dict]:
    r = client.get("/api/v1/stores/store-a/events", params={"limit": 1000})
    return r.json()["events"] if r.status_code == 200 else []


def test_postgres_restart_during_ingest_loses_and_duplicates_nothing(private_pg, make_hub, sim, capsys):
    client = make_hub(private_pg.url())
    edge = sim()
    edge.birth({"s0": "empty", "s1": "empty", "s2": "empty"})
    wait_for(lambda: client.get("/api/v1/stores/store-a/seats").status_code == 200, what="birth stored")
    n = 200
    t = time.time()

    def stream() -> None:
        for i in range(n):
            frm, to = ("empty", "occupied") if (i // 3) % 2 == 0 else ("occupied", "empty")
            edge.event(f"s{i % 3}", frm, to, at=t + i)
            time.sleep(0.02)

    th = threading.Thread(target=stream)
    th.start()
    wait_for(lambda: len(_events(client)) >= 20, what="ingest under way")
    private_pg.stop("fast")
    time.sleep(3)
    private_pg.start()
    up = time.monotonic()
    th.join(60)
    events = wait_for(lambda: (ev := _events(client)) and len(ev) >= n and ev, timeout=45,
                      what=f"all {n} events after the restart")
    caught_up_s = time.monotonic() - up
    ats = sorted(e["at"] for e in events)
    assert len(ats) == len(set(ats)) == n  # none lost, none twice
    states = {s["seat_id"]: s["state"] for s in client.get("/api/v1/stores/store-a/seats").json()}
    last = {f"s{i % 3}": ("occupied" if (i // 3) % 2 == 0 else "empty") for i in range(n)}
    assert states == last
    with capsys.disabled():
        print(f"\n[postgres restart] {n} events once each; caught up {caught_up_s:.1f} s after PostgreSQL was back")
