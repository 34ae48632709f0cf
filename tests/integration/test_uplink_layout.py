"""The uplink sends the seat layout by hash (protocol schema 2): the full seats in the first birth
of a process and after a layout change, by hash otherwise, in full again when the hub asks with a
snapshot request of reason "layout". Real Mosquitto."""

from __future__ import annotations

import threading

from edge_agent.uplink import Uplink
from protocol import Birth, SeatDef, SeatSnapshot, SnapshotRequest, StateRules, encode
from protocol.wire import layout_hash
from tests.support.mqtt import Subscriber, make_cfg
from tests.support.waiting import wait_for


class Layout:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seats = [SeatDef(seat_id=f"S{i}", channel=1, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)]) for i in range(3)]

    def birth(self):
        with self.lock:
            return 1, list(self.seats), [SeatSnapshot(s.seat_id, "empty", 100.0) for s in self.seats], [], StateRules()


def test_layout_goes_by_hash_and_in_full_when_asked_or_changed(broker, tmp_path):
    from edge_agent.storage.db import EdgeStore

    store = EdgeStore(tmp_path / "edge.db")
    cfg = make_cfg(broker.host, broker.port, broker.prefix)
    sub = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/birth").connect()
    layout = Layout()
    up = Uplink(cfg, store, birth_factory=layout.birth, reconnect_delay=(0.2, 1))
    births = lambda: sub.of(Birth)  # noqa: E731
    try:
        up.start()
        wait_for(lambda: len(births()) == 1, what="first birth")
        up.publish_birth()  # e.g. the answer to a gap: by hash
        wait_for(lambda: len(births()) == 2, what="second birth")
        topic = up.topics.topic("teststore", "edge1", "snapshot_request")
        ask = SnapshotRequest(store_id="teststore", edge_id="edge1", ts=1.0, reason="layout")
        sub.client.publish(topic, encode(ask), qos=1).wait_for_publish(5)
        wait_for(lambda: len(births()) == 3, what="birth answering the layout request")
        with layout.lock:
            layout.seats = layout.seats[:2]  # a config removed a seat
        up.publish_birth()
        wait_for(lambda: len(births()) == 4, what="birth after the layout change")
        up.publish_birth()
        wait_for(lambda: len(births()) == 5, what="birth after that")
        b = births()
        full, short = layout_hash(Layout().seats), layout_hash(layout.seats)
        assert [(len(x.seats), x.layout_hash) for x in b] == [
            (3, full), (0, full), (3, full), (2, short), (0, short)]
        assert [len(x.states) for x in b] == [3, 3, 3, 2, 2]  # the states always go in full
    finally:
        up.stop(2)
        sub.close()
        store.close()
