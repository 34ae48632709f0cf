"""Births carry the seat layout by hash (protocol schema 2): the hub asks for the layout only
for a hash it does not know. Real Mosquitto, real database, the hub's consumer."""

from __future__ import annotations

import time

import msgspec

from protocol import Birth, SeatSnapshot, SnapshotRequest
from protocol.wire import layout_hash
from tests.support.hub_queries import seats_by_id, states
from tests.support.waiting import wait_for


def hashed_birth(edge, states: dict[str, str], h: str) -> None:
    """A birth with the layout by hash only, as the edge sends it while the hub knows the layout."""
    now = time.time()
    edge.send(Birth(**edge.base(), config_version=1, seats=[], layout_hash=h,
                    states=[SeatSnapshot(k, v, now) for k, v in states.items()]))


def test_unknown_hash_is_asked_for_known_hash_is_not(pg_url, make_hub, sim):
    client = make_hub(pg_url)
    edge = sim()
    h = layout_hash(edge.seats)
    # First contact, layout by hash only: states apply, the hub asks for the layout.
    hashed_birth(edge, {"s0": "occupied", "s1": "empty", "s2": "away"}, h)
    req = edge.wait_received(SnapshotRequest)
    assert (req.edge_id, req.reason) == ("edge-1", "layout")
    # The edge answers with the full layout: the seats appear with their labels.
    edge.birth({"s0": "occupied", "s1": "empty", "s2": "away"}, layout_hash=h)
    wait_for(lambda: {k: v["label"] for k, v in seats_by_id(client).items()} == {"s0": "A-0", "s1": "A-1", "s2": "A-2"},
             what="seats from the full birth")
    # A later birth by the same hash: no request, the seats stay, the states apply.
    hashed_birth(edge, {"s0": "empty", "s1": "empty", "s2": "empty"}, h)
    wait_for(lambda: states(client) == {"s0": "empty", "s1": "empty", "s2": "empty"}, what="states by hash")
    edge.delta({"s1": "occupied"})
    wait_for(lambda: states(client).get("s1") == "occupied", what="delta after it")
    assert edge.received.empty()  # nothing was asked
    assert set(seats_by_id(client)) == {"s0", "s1", "s2"}
    # A changed layout by a hash the hub does not know: asked again.
    moved = [msgspec.structs.replace(s, label="moved") for s in edge.seats]
    hashed_birth(edge, {"s0": "empty"}, layout_hash(moved))
    assert edge.wait_received(SnapshotRequest).reason == "layout"
