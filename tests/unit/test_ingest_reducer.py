"""The ingest's pure reducer (hub.ingest.reducer): decisions without a database."""

from __future__ import annotations

import msgspec

from hub.ingest.reducer import Current, EdgeRow, Reducer, StateRow, reduce_batch, state_keys
from protocol import Birth, ConfigAck, Death, Delta, Event, Evidence, Health, SeatDef, SeatSnapshot
from protocol.live import LiveChannel, LiveEdge, LiveSeat, Update
from protocol.messages import ChannelHealth
from protocol.wire import layout_hash

NOW = 1_000_000.0
BASE = {"store_id": "s1", "edge_id": "e1", "boot_id": "b1"}
SEATS = [SeatDef(seat_id=f"A{i}", channel=1, polygon=[(0, 0), (1, 0), (1, 1)]) for i in range(3)]


def current(states: dict[str, str] | None = None, **edge) -> Current:
    """An edge ``e1`` of store ``s1`` at seq 10 of boot ``b1`` with seats A0..A2."""
    e = EdgeRow("s1", "e1", boot_id="b1", last_seq=10, last_seen=NOW - 5, layout_hash=layout_hash(SEATS))
    e = msgspec.structs.replace(e, **edge)
    rows = {("s1", sid): StateRow("s1", sid, "e1", st, NOW - 100, NOW - 100, NOW - 100)
            for sid, st in (states or {}).items()}
    return Current(edges={("s1", "e1"): e}, states=rows, known_seats={("s1", s.seat_id) for s in SEATS})


def delta(seq: int, changes: dict[str, str], ts: float = NOW - 1, **kw) -> Delta:
    return Delta(**BASE, seq=seq, ts=ts, changes=[SeatSnapshot(s, st, ts) for s, st in changes.items()], **kw)


def test_a_delta_writes_the_changed_seat_and_one_typed_update():
    writes, result = reduce_batch([delta(11, {"A0": "occupied"})], current({"A0": "empty"}), NOW)
    (row,) = writes.states
    assert (row.seat_id, row.state, row.since, row.updated_at) == ("A0", "occupied", NOW - 1, NOW)
    assert writes.edges[("s1", "e1")].last_seq == 11 and writes.edges[("s1", "e1")].last_seen == NOW
    assert result.seat_changes == 1 and result.by_kind == {"delta": 1}
    assert result.live == [Update(store_id="s1", seats=[LiveSeat("A0", "occupied", NOW - 1)])]
    assert result.snapshot_requests == [] and result.gap_ranges == []


def test_the_current_rows_are_not_changed():
    cur = current({"A0": "empty"})
    before = msgspec.structs.asdict(cur.edges[("s1", "e1")]), dict(cur.states), set(cur.known_seats)
    reduce_batch([delta(11, {"A0": "occupied"}), Death(**BASE, seq=12, ts=NOW)], cur, NOW)
    assert (msgspec.structs.asdict(cur.edges[("s1", "e1")]), cur.states, cur.known_seats) == before


def test_seats_outside_the_layout_are_refused_and_counted():
    writes, result = reduce_batch([delta(11, {"A0": "occupied", "ghost": "occupied", "X": "away"})],
                                  current(), NOW)
    assert [r.seat_id for r in writes.states] == ["A0"]
    assert result.rejected == {"unknown_seat": 2}


def test_an_older_observation_never_replaces_a_newer_one():
    cur = current({"A0": "occupied"})
    cur.states[("s1", "A0")] = msgspec.structs.replace(cur.states[("s1", "A0")], observed_at=NOW - 10)
    writes, result = reduce_batch([delta(11, {"A0": "empty"}, ts=NOW - 50, historical=True)], cur, NOW)
    assert writes.states == [] and result.seat_changes == 0 and result.live == []


def test_same_state_again_only_moves_observed_at():
    cur = current({"A0": "occupied"})
    cur.states[("s1", "A0")] = StateRow("s1", "A0", "e1", "occupied", NOW - 100, NOW - 100, NOW - 100)
    d = Delta(**BASE, seq=11, ts=NOW - 2, changes=[SeatSnapshot("A0", "occupied", NOW - 100)])
    writes, result = reduce_batch([d], cur, NOW)
    (row,) = writes.states
    assert (row.state, row.since, row.observed_at, row.updated_at) == ("occupied", NOW - 100, NOW - 2, NOW - 100)
    assert result.seat_changes == 0 and result.live == []


def test_a_jump_in_seq_is_a_gap_candidate_and_a_foreign_boot_asks_for_a_snapshot_once():
    _, result = reduce_batch([delta(15, {"A0": "occupied"})], current(), NOW)
    assert result.gap_ranges == [("s1", "e1", "b1", 11, 14)] and result.snapshot_requests == []
    other = Delta(**{**BASE, "boot_id": "b2"}, seq=3, ts=NOW, changes=[])
    writes, result = reduce_batch([other, msgspec.structs.replace(other, seq=4)], current(), NOW)
    assert [r.reason for r in result.snapshot_requests] == ["missed_birth"]
    assert writes.edges[("s1", "e1")].snapshot_requested_at == NOW
    # asked less than a minute ago: not again
    _, again = reduce_batch([other], current(snapshot_requested_at=NOW - 30), NOW)
    assert again.snapshot_requests == []


def test_death_makes_every_seat_of_the_edge_unknown_and_the_edge_offline():
    cur = current({"A0": "occupied", "A1": "empty", "A2": "unknown"})
    writes, result = reduce_batch([Death(**BASE, seq=0, ts=NOW - 999)], cur, NOW)
    assert sorted((r.seat_id, r.state, r.since) for r in writes.states) == [
        ("A0", "unknown", NOW), ("A1", "unknown", NOW)]
    e = writes.edges[("s1", "e1")]
    assert (e.online, e.offline_since) == (False, NOW)
    (update,) = result.live
    assert update.edges == [LiveEdge("e1", False, NOW - 5)] and len(update.seats) == 2
    # the Last Will of an older session changes nothing
    writes, result = reduce_batch([Death(**{**BASE, "boot_id": "old"}, seq=0, ts=NOW)], cur, NOW)
    assert writes.states == [] and writes.edges[("s1", "e1")].online


def test_a_message_from_an_offline_edge_brings_it_back_and_asks_for_a_snapshot():
    writes, result = reduce_batch([delta(11, {})], current(online=False, offline_since=NOW - 60), NOW)
    assert writes.edges[("s1", "e1")].online and [r.reason for r in result.snapshot_requests] == ["offline"]
    assert result.live[0].edges == [LiveEdge("e1", True, NOW)]


def test_birth_sets_the_session_writes_the_layout_and_forces_states():
    cur = Current()  # first contact
    b = Birth(**BASE, seq=1, ts=NOW - 1, config_version=4, seats=SEATS,
              states=[SeatSnapshot("A0", "occupied", NOW - 30), SeatSnapshot("Z", "empty", NOW)])
    writes, result = reduce_batch([b], cur, NOW)
    e = writes.edges[("s1", "e1")]
    assert (e.boot_id, e.last_seq, e.config_version, e.layout_hash) == ("b1", 1, 4, layout_hash(SEATS))
    (bw,) = writes.births
    assert [r["seat_id"] for r in bw.seats] == ["A0", "A1", "A2"]
    assert writes.stores == ["s1"] and result.rejected == {"unknown_seat": 1}  # Z is not in the layout
    assert [(r.seat_id, r.state) for r in writes.states] == [("A0", "occupied")]
    # a birth by a layout hash the hub does not know: keeps the seat rows, asks for the layout
    by_hash = msgspec.structs.replace(b, boot_id="b2", seats=[], layout_hash="f" * 32, states=[])
    writes, result = reduce_batch([by_hash], current(), NOW)
    assert writes.births[0].seats is None and [r.reason for r in result.snapshot_requests] == ["layout"]


def test_a_stale_birth_of_the_current_boot_is_ignored():
    b = Birth(**BASE, seq=5, ts=NOW, config_version=1, seats=SEATS, states=[SeatSnapshot("A0", "empty", NOW)])
    writes, result = reduce_batch([b], current({"A0": "occupied"}), NOW)
    assert writes.births == [] and writes.states == [] and writes.edges[("s1", "e1")].last_seq == 10


def test_health_event_and_ack():
    h = Health(**BASE, seq=11, ts=NOW, outbox_depth=7, outbox_dropped=1,
               channels=[ChannelHealth(channel=1, online=False, fps=0.0, reconnects=3)])
    ev = Event(**BASE, seq=12, ts=NOW, seat_id="A1", from_state="empty", to_state="occupied", at=NOW - 3,
               evidence=Evidence())
    ack = ConfigAck(**BASE, seq=13, ts=NOW, version=9, ok=True)
    writes, result = reduce_batch([h, ev, ack], current({"A1": "empty"}, config_version=3), NOW)
    e = writes.edges[("s1", "e1")]
    assert (e.outbox_depth, e.outbox_dropped, e.config_version, e.last_seq) == (7, 1, 9, 13)
    assert [(c["channel"], c["online"], c["reconnects"]) for c in writes.channels] == [(1, False, 3)]
    assert [(x["seat_id"], x["seq"], x["to_state"]) for x in writes.events] == [("A1", 12, "occupied")]
    assert writes.acks == [ack]
    (update,) = result.live
    assert update.channels == [LiveChannel("e1", 1, False, 0.0)]
    assert update.seats == [LiveSeat("A1", "occupied", NOW - 3)]


def test_silence_marks_the_edge_offline_since_last_seen():
    r = Reducer(current({"A0": "occupied"}), NOW)
    r.silent("s1", "e1")
    writes, result = r.finish()
    assert [(x.state, x.since) for x in writes.states] == [("unknown", NOW - 5)]
    assert writes.edges[("s1", "e1")].offline_since == NOW - 5 and not writes.edges[("s1", "e1")].online


def test_state_keys_name_only_the_rows_a_batch_can_touch():
    b = Birth(**{**BASE, "store_id": "s2"}, seq=1, ts=NOW, config_version=1, seats=SEATS,
              states=[SeatSnapshot("A2", "empty", NOW)])
    seats, dead = state_keys([delta(11, {"A0": "occupied"}), b, Death(**BASE, seq=0, ts=NOW)])
    assert seats == {"s1": {"A0"}, "s2": {"A2"}} and dead == {("s1", "e1")}
