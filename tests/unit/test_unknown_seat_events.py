"""Issue 20 item 8 in the pure reducer: an event of a seat that the store's layout lacks is not
stored and not confirmed to the edge (so an edge that confirms end to end sends it again, and a
birth committed meanwhile on another replica makes it count); a store with no layout at all yet
keeps its events in history (first contact across replicas)."""

from __future__ import annotations

from hub.ingest.reducer import Current, EdgeRow, reduce_batch
from protocol import Event

NOW = 1_000_000.0
BASE = {"store_id": "s1", "edge_id": "e1", "boot_id": "b1"}


def _event(seq: int, seat: str) -> Event:
    return Event(**BASE, seq=seq, ts=NOW - 1, seat_id=seat, from_state="empty", to_state="occupied", at=NOW - 1)


def _current(**kw) -> Current:
    e = EdgeRow("s1", "e1", boot_id="b1", last_seq=10, last_seen=NOW - 5)
    return Current(edges={("s1", "e1"): e}, **kw)


def test_unknown_seat_event_of_a_store_with_a_layout_is_refused_and_left_unconfirmed():
    writes, result = reduce_batch([_event(11, "A0"), _event(12, "=HYPERLINK(1)")],
                                  _current(known_seats={("s1", "A0")}), NOW)
    assert [e["seat_id"] for e in writes.events] == ["A0"]
    assert result.rejected == {"unknown_seat": 1}
    assert result.unsettled == [("s1", "e1", "b1", 12)]


def test_a_store_without_any_layout_keeps_its_events_in_history_without_state():
    writes, result = reduce_batch([_event(11, "A0")], _current(), NOW)
    assert [e["seat_id"] for e in writes.events] == ["A0"] and writes.states == []
    assert result.unsettled == [] and result.rejected == {}


def test_the_layout_a_store_has_in_the_database_counts_even_when_no_named_seat_is_known():
    writes, result = reduce_batch([_event(11, "zz")], _current(stores_with_layout={"s1"}), NOW)
    assert writes.events == [] and result.unsettled == [("s1", "e1", "b1", 11)]
