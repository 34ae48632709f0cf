"""EdgeStore: states, events, config, and the bounded outbox (real SQLite files in tmp_path)."""

from __future__ import annotations

import logging
import threading

import pytest

from edge_agent.storage.db import EdgeStore, OutboxBounds
from edge_agent.types import Transition
from protocol import Evidence, SeatDef, SeatSnapshot, StateRules

SQ = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]


def test_states_events_config_survive_reopen(tmp_path):
    db = tmp_path / "edge.db"
    s = EdgeStore(db)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.save_states([SeatSnapshot("A1", "occupied", 10.0), SeatSnapshot("A2", "empty", 5.0)])
    s.save_states([SeatSnapshot("A1", "away", 30.0)])
    ev = Evidence(person_overlap=0.0, item_count=2, item_classes=["backpack", "laptop"])
    e1 = s.add_event(Transition("A1", "occupied", "away", 30.0, ev))
    e2 = s.add_event(Transition("A2", "unknown", "empty", 31.0, Evidence()))
    assert e2 > e1 > 0
    seats = [SeatDef("A1", 1, SQ, label="A-1"), SeatDef("A2", 1, SQ)]
    assert s.get_config() is None
    s.set_config(3, seats, StateRules(abandoned_after_s=300))
    s.close()

    s = EdgeStore(db)
    assert s.load_states() == [SeatSnapshot("A1", "away", 30.0), SeatSnapshot("A2", "empty", 5.0)]
    events = s.events()
    assert [e.seat_id for e in events] == ["A2", "A1"]  # newest first
    assert events[1].evidence == ev
    assert [e.seat_id for e in s.events(since=30.5)] == ["A2"]
    assert len(s.events(limit=1)) == 1
    with pytest.raises(ValueError, match="limit"):
        s.events(limit=0)
    version, got_seats, rules = s.get_config()
    assert version == 3 and got_seats == seats and rules.abandoned_after_s == 300


def test_outbox_order_remove_and_depth(tmp_path):
    s = EdgeStore(tmp_path / "e.db")
    ids = [s.enqueue("t/event", f"p{i}".encode(), "event", "A1") for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [r.payload for r in s.pending(10)] == [b"p0", b"p1", b"p2", b"p3", b"p4"]
    assert [r.id for r in s.pending(2, after_id=ids[1])] == ids[2:4]
    assert s.remove(ids[2]) and not s.remove(ids[2])
    assert s.depth() == 4 and s.depth_bytes() == 8
    s.close()
    s = EdgeStore(tmp_path / "e.db")  # counters rebuilt, ids keep increasing after reopen
    assert s.depth() == 4
    assert s.enqueue("t", b"x", "health") > ids[-1]


def test_mark_historical_and_remove_kinds(tmp_path):
    s = EdgeStore(tmp_path / "e.db")
    s.enqueue("t", b"b", "birth")
    s.enqueue("t", b"d", "delta", "A1")
    s.enqueue("t", b"e", "event", "A1")
    s.enqueue("t", b"x", "death")
    assert s.mark_historical(("delta", "event")) == 2
    assert [(r.kind, r.historical) for r in s.pending(10)] == [
        ("birth", False), ("delta", True), ("event", True), ("death", False)]
    assert s.remove_kinds(("birth", "death")) == 2
    assert [r.kind for r in s.pending(10)] == ["delta", "event"]
    assert s.depth() == 2


def test_bound_collapses_superseded_deltas_never_events(tmp_path):
    s = EdgeStore(tmp_path / "e.db", OutboxBounds(max_rows=10, slack=1.0))
    for i in range(4):
        s.enqueue("t", f"A1-{i}".encode(), "delta", "A1")
        s.enqueue("t", f"ev{i}".encode(), "event", "A1")
    s.enqueue("t", b"B1-0", "delta", "B1")
    s.enqueue("t", b"h0", "health")
    s.enqueue("t", b"h1", "health")  # 11 rows: over the bound of 10 -> collapse
    rows = [r.payload for r in s.pending(100)]
    # Only the newest delta per seat and the newest health survive; all events stay, in order.
    assert rows == [b"ev0", b"ev1", b"ev2", b"A1-3", b"ev3", b"B1-0", b"h1"]
    assert s.dropped() == 0 and s.collapsed() == 4
    assert s.depth() == 7


def test_bound_drops_oldest_non_events_and_counts_persistently(tmp_path):
    s = EdgeStore(tmp_path / "e.db", OutboxBounds(max_rows=6, slack=1.0))
    s.enqueue("t", b"ev0", "event", "A1")
    for i in range(8):  # distinct seats: nothing to collapse
        s.enqueue("t", f"S{i}".encode(), "delta", f"S{i}")
    rows = [r.payload for r in s.pending(100)]
    assert rows == [b"ev0", b"S3", b"S4", b"S5", b"S6", b"S7"]
    assert s.dropped() == 3
    s.close()
    assert EdgeStore(tmp_path / "e.db").dropped() == 3


def test_events_are_kept_even_over_the_bound(tmp_path, caplog):
    s = EdgeStore(tmp_path / "e.db", OutboxBounds(max_rows=3, slack=1.0))
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            s.enqueue("t", f"ev{i}".encode(), "event", "A1")
    assert s.depth() == 5 and s.dropped() == 0
    assert "only events are left" in caplog.text


def test_bound_by_bytes_and_age(tmp_path):
    now = [1000.0]
    s = EdgeStore(tmp_path / "e.db", OutboxBounds(max_bytes=300, max_age_s=60, slack=1.0), clock=lambda: now[0])
    for i in range(5):
        s.enqueue("t", bytes(100), "delta", f"S{i}")
    assert s.depth_bytes() <= 300 and s.dropped() == 2
    s.enqueue("t", b"e", "event", "S1")
    now[0] += 120  # past max_age: old non-events go (the age check runs at most once a minute)
    s.enqueue("t", b"new", "health")
    assert [r.payload for r in s.pending(10)] == [b"e", b"new"]
    assert s.dropped() == 5


def test_full_disk_keeps_running_in_memory_then_recovers(tmp_path, caplog):
    s = EdgeStore(tmp_path / "e.db")
    s.enqueue("t", b"first", "event", "A1")
    pages = s.db.execute("PRAGMA page_count").fetchone()[0]
    # A real SQLITE_FULL: cap the database at its current size.
    s.db.execute(f"PRAGMA max_page_count = {pages}")
    big = bytes(8192)
    with caplog.at_level(logging.ERROR):
        ids = [s.enqueue("t", big, "event", "A1") for _ in range(3)]
        fat = Evidence(item_classes=["x" * 8000])
        assert s.add_event(Transition("A1", "empty", "occupied", 1.0, fat)) == -1
        many = [SeatSnapshot(f"S{i:04d}-" + "x" * 50, "occupied", 1.0) for i in range(500)]
        assert s.save_states(many) is False
    assert "disk is full" in caplog.text
    full_logs = [r for r in caplog.records if "disk is full" in r.getMessage()]
    assert len(full_logs) == 1  # once per episode, not per write
    assert s.disk_full
    assert [r.id for r in s.pending(10)][1:] == ids  # memory rows after disk rows, in order
    assert s.depth() == 4
    # Space returns; rows acked from memory, then new rows go to disk again.
    s.db.execute("PRAGMA max_page_count = 1000000")
    for i in ids:
        assert s.remove(i)
    nid = s.enqueue("t", b"after", "event", "A1")
    assert nid > ids[-1] and not s.disk_full
    assert [r.payload for r in s.pending(10)] == [b"first", b"after"]


def test_memory_queue_bound_drops_non_events_with_count(tmp_path):
    s = EdgeStore(tmp_path / "e.db", OutboxBounds(memory_rows=2))
    s.enqueue("t", b"x", "event", "A1")
    s.db.execute(f"PRAGMA max_page_count = {s.db.execute('PRAGMA page_count').fetchone()[0]}")
    big = bytes(8192)
    s.enqueue("t", big, "delta", "A1")
    s.enqueue("t", big, "event", "A1")
    s.enqueue("t", big, "event", "A2")  # memory holds 3 > 2: the delta goes
    assert [r.kind for r in s.pending(10)] == ["event", "event", "event"]
    assert s.dropped() == 1


def test_threads_share_the_store(tmp_path):
    s = EdgeStore(tmp_path / "e.db")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(200):
                s.enqueue("t", f"{n}-{i}".encode(), "event", "A1")
                s.save_states([SeatSnapshot(f"S{n}", "occupied", float(i))])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(200):
                s.load_states()
                for r in s.pending(50):
                    s.remove(r.id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=writer, args=(n,)) for n in range(2)] + [threading.Thread(target=reader)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    left = s.pending(1000)
    assert s.depth() == len(left)
