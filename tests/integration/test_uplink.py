"""Uplink against a real Mosquitto: session protocol, outage replay, SIGKILL, Last Will.

The outage test stops the test's own Mosquitto (``private_broker``) while seats change, starts
it again and checks that a subscriber (standing in for the hub) gets every event exactly once,
in order, replayed ones flagged historical, and ends with the edge's state. A small TCP gate in
front of the broker lets the test's subscriber reconnect before the uplink does (a restarted
broker without persistence only delivers to subscribers already there).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge_agent.storage.db import EdgeStore
from edge_agent.types import Transition
from edge_agent.uplink import Uplink
from protocol import Birth, Death, Delta, Event, Evidence, ProtocolError, decode
from tests.support.mqtt import Gate, Seats, Subscriber, hub_fold, make_cfg
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]














@pytest.fixture
def tmp_store(tmp_path):
    s = EdgeStore(tmp_path / "edge.db")
    yield s
    s.close()


def test_birth_first_then_live_messages_acked(broker, tmp_store):
    cfg = make_cfg(broker.host, broker.port, broker.prefix)
    sub = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/+").connect()
    seats = Seats(3)
    up = Uplink(cfg, tmp_store, birth_factory=seats.birth, reconnect_delay=(0.2, 1))
    try:
        up.start()
        wait_for(lambda: sub.of(Birth), what="birth")
        t = Transition("S1", "empty", "occupied", 100.0, Evidence(person_overlap=0.8, person_conf=0.9))
        up.publish_delta([seats.set("S1", "occupied", 100.0), seats.set("S2", "away", 101.0)])
        up.publish_event(t)
        wait_for(lambda: sub.of(Event) and len(sub.of(Delta)) == 2, what="delta and event")
        assert up.wait_drained(5)
        msgs = sub.messages()
        assert isinstance(msgs[0], Birth) and msgs[0].boot_id == up.boot_id
        seqs = [m.seq for m in msgs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        ev = sub.of(Event)[0]
        assert (ev.seat_id, ev.to_state, ev.at, ev.historical) == ("S1", "occupied", 100.0, False)
        assert ev.evidence.person_overlap == 0.8
        assert [d.changes[0].seat_id for d in sub.of(Delta)] == ["S1", "S2"]
        st = up.stats()
        assert st.connected and st.queued == 0 and st.acked >= 4 and st.dropped == 0
    finally:
        up.stop(2)
        sub.close()


def test_stop_publishes_retained_death_shutdown(broker, tmp_store):
    cfg = make_cfg(broker.host, broker.port, broker.prefix)
    up = Uplink(cfg, tmp_store, birth_factory=Seats(1).birth, reconnect_delay=(0.2, 1))
    up.start()
    wait_for(lambda: up.connected, what="connect")
    assert up.stop(5) is True
    assert tmp_store.depth() == 0
    # A subscriber arriving later still learns the edge shut down (retained).
    late = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/death").connect()
    try:
        wait_for(lambda: late.of(Death), what="retained death")
        d = late.of(Death)[0]
        assert d.reason == "shutdown" and d.boot_id == up.boot_id
        # The next start clears it (empty retained payload) before its birth.
        up2 = Uplink(cfg, tmp_store, birth_factory=Seats(1).birth, reconnect_delay=(0.2, 1))
        up2.start()
        wait_for(lambda: any(p == b"" for _, p, _ in late.raw), what="retained death cleared")
        up2.stop(5)
    finally:
        late.close()


def test_snapshot_request_gets_birth_and_malformed_is_logged(broker, tmp_store, caplog):
    from protocol import SnapshotRequest, encode

    cfg = make_cfg(broker.host, broker.port, broker.prefix)
    sub = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/birth").connect()
    up = Uplink(cfg, tmp_store, birth_factory=Seats(2).birth, reconnect_delay=(0.2, 1))
    try:
        up.start()
        wait_for(lambda: len(sub.of(Birth)) == 1, what="first birth")
        topic = up.topics.topic("teststore", "edge1", "snapshot_request")
        with caplog.at_level(logging.WARNING, logger="edge_agent.uplink"):
            sub.client.publish(topic, b"\x93garbage", qos=1).wait_for_publish(5)
            sub.client.publish(topic, encode(SnapshotRequest(store_id="teststore", edge_id="edge1", ts=1.0)),
                               qos=1).wait_for_publish(5)
            wait_for(lambda: len(sub.of(Birth)) == 2, what="birth answering the snapshot request")
        assert "ignored malformed message on " + topic in caplog.text
        b1, b2 = sub.of(Birth)
        assert b2.seq > b1.seq and b2.boot_id == b1.boot_id
    finally:
        up.stop(2)
        sub.close()


def test_broker_outage_replays_everything_once_in_order(private_broker, tmp_store, capsys):
    br = private_broker
    gate = Gate(br.port)
    cfg = make_cfg("127.0.0.1", gate.port, br.prefix)
    flt = f"{br.prefix}/teststore/edge1/+"
    sub = Subscriber("127.0.0.1", br.port, flt).connect()
    seats = Seats(12)
    up = Uplink(cfg, tmp_store, birth_factory=seats.birth, reconnect_delay=(0.2, 0.5))
    created: list[tuple[str, float]] = []  # (seat, at) of every event, in creation order
    at = [1000.0]

    def change(n: int) -> None:
        for i in range(n):
            at[0] += 1.0
            sid = f"S{i % 12}"
            to = "occupied" if (i // 12) % 2 == 0 else "empty"
            frm = seats.states[sid].state
            up.publish_delta([seats.set(sid, to, at[0])])
            up.publish_event(Transition(sid, frm, to, at[0], Evidence()))
            created.append((sid, at[0]))

    subs = [sub]
    try:
        up.start()
        wait_for(lambda: sub.of(Birth), what="birth")
        change(30)  # live
        assert up.wait_drained(10)
        live_count = len(created)

        gate.is_open = False
        br.stop()
        wait_for(lambda: not up.connected, what="uplink noticing the outage")
        change(400)  # during the outage: 400 events + 400 deltas
        buffered = tmp_store.depth()
        assert buffered == 800
        br.start()
        sub2 = Subscriber("127.0.0.1", br.port, flt).connect()  # the hub is back first
        subs.append(sub2)
        t_open = time.monotonic()
        gate.is_open = True
        wait_for(lambda: tmp_store.depth() == 0 and up.connected, timeout=30, what="outbox replay")
        replay_s = time.monotonic() - t_open
        change(6)  # live again after the reconnect
        assert up.wait_drained(10)
        wait_for(lambda: len(sub2.of(Event)) >= 406, what="last events at the subscriber")
    finally:
        up.stop(2)
        for s in subs:
            s.close()
        gate.close()

    before, after = sub.messages(), sub2.messages()
    events = [m for m in before + after if isinstance(m, Event)]
    keys = [(e.seat_id, e.at) for e in events]
    duplicates = len(keys) - len(set(keys))
    lost = len(set(created) - set(keys))
    assert lost == 0 and duplicates == 0
    assert keys == created  # in creation order, none missing, none twice
    assert [e.historical for e in events] == [False] * live_count + [True] * 400 + [False] * 6
    # After the reconnect the birth comes first, then the replay.
    assert isinstance(after[0], Birth)
    assert all(m.historical for m in after[1:801])
    # The hub ends with the edge's state, and the outbox says nothing was dropped.
    assert hub_fold(before + after) == {s.seat_id: s for s in seats.birth()[2]}
    st = up.stats()
    assert st.dropped == 0 and st.replayed == 800
    with capsys.disabled():
        print(f"\n[outage figures] buffered={buffered} messages (400 events + 400 deltas), "
              f"replay={replay_s:.2f} s (incl. reconnect), lost={lost}, duplicates={duplicates}")


CHILD = textwrap.dedent(
    """
    import logging, sys, time
    sys.path.insert(0, {repo!r})
    from edge_agent.storage.db import EdgeStore
    from edge_agent.types import Transition
    from edge_agent.uplink import Uplink
    from protocol import Evidence, StateRules
    from tests.support.mqtt import make_cfg

    logging.basicConfig(level=logging.WARNING)
    data, port, prefix, start, count, pace, drain = sys.argv[1:8]
    store = EdgeStore(data + "/edge.db")
    cfg = make_cfg("127.0.0.1", int(port), prefix, data_dir=data)
    up = Uplink(cfg, store, birth_factory=lambda: (1, [], store.load_states(), [], StateRules()),
                reconnect_delay=(0.2, 0.5))
    up.start()
    print("boot", up.boot_id, flush=True)
    for k in range(int(start), int(start) + int(count)):
        t = Transition("S%d" % (k % 7), "empty", "occupied", float(k), Evidence())
        store.add_event(t)
        up.publish_event(t)
        print(k, flush=True)
        time.sleep(float(pace))
    if drain == "1":
        ok = up.wait_drained(20)
        up.stop(5)
        sys.exit(0 if ok else 3)
    """
)


def test_sigkill_mid_stream_loses_and_duplicates_nothing(broker, tmp_path, capsys):
    child = tmp_path / "child.py"
    child.write_text(CHILD.format(repo=str(REPO)))
    data = tmp_path / "data"
    data.mkdir()
    sub = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/+").connect()

    def run(start: int, count: int, pace: float, drain: bool) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(child), str(data), str(broker.port), broker.prefix, str(start),
                                 str(count), str(pace), "1" if drain else "0"],
                                stdout=subprocess.PIPE, text=True, cwd=str(REPO))

    try:
        p1 = run(0, 100000, 0.0, False)
        boot1 = p1.stdout.readline().split()[1]
        printed: list[int] = []
        while len(printed) < 300:
            printed.append(int(p1.stdout.readline()))
        os.kill(p1.pid, signal.SIGKILL)  # mid-stream, while messages are in flight
        p1.wait(10)
        printed += [int(x) for x in p1.stdout.read().split()]
        # The broker publishes the Last Will of the killed session.
        wait_for(lambda: any(d.boot_id == boot1 and d.reason == "lost" for d in sub.of(Death)), what="Last Will")
        left_after_kill = EdgeStore(data / "edge.db").depth()

        p2 = run(1_000_000, 20, 0.0, True)
        boot2 = p2.stdout.readline().split()[1]
        printed2 = [int(x) for x in p2.stdout.read().split()]
        assert p2.wait(40) == 0, "restarted agent did not drain its outbox"
        wait_for(lambda: any(d.boot_id == boot2 and d.reason == "shutdown" for d in sub.of(Death)),
                 what="death of the second run")
    finally:
        sub.close()

    assert boot1 != boot2
    events = sub.of(Event)
    identities = {(e.boot_id, e.seq): e.at for e in events}  # the hub's dedupe
    raw_dupes = len(events) - len(identities)
    received = sorted(identities.values())
    created = {float(k) for k in printed + printed2}
    # Each event once after dedupe: no event under two identities.
    assert len(received) == len(set(received))
    # Every event the agent reported as created arrived; at most the one being written at the kill
    # (committed but not yet printed) arrives in addition.
    assert created <= set(received)
    extra = set(received) - created
    assert extra <= {float(max(printed) + 1)}
    assert all(e.boot_id == boot1 for e in events if e.at < 1_000_000)
    # Rows from the killed boot were replayed by the second boot as historical.
    assert EdgeStore(data / "edge.db").depth() == 0
    with capsys.disabled():
        print(f"\n[sigkill figures] created={len(created) + len(extra)} events, queued at kill={left_after_kill}, "
              f"received raw={len(events)} (redelivered {raw_dupes}), after dedupe={len(received)}, lost=0")


def test_decode_of_our_payloads_is_strict():
    # The subscriber's decode fails loudly on garbage (used above to read what the broker delivered).
    with pytest.raises(ProtocolError):
        decode(b"\x00\x01")
