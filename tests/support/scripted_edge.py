"""A scripted edge (no camera): stores and publishes transitions exactly as EdgeAgent does."""

from __future__ import annotations

from pathlib import Path

from edge_agent.settings import EdgeConfig, EdgeSection, MqttSection
from edge_agent.storage.db import EdgeStore
from edge_agent.types import Transition
from edge_agent.uplink import Uplink
from protocol import ChannelDef, Evidence, SeatDef, SeatSnapshot, StateRules
from tests.support.hub_harness import square

SEATS = [SeatDef(seat_id=f"s{i:02d}", channel=1, polygon=square(0.05 * i, 0.1, 0.04)) for i in range(10)]


T0 = 1_700_000_000.0


class ScriptedEdge:
    """What EdgeAgent does per transition (store event + state, publish event + delta), scripted."""

    def __init__(self, cfg: EdgeConfig, data: Path) -> None:
        self.store = EdgeStore(data / "edge.sqlite")
        self.states = {s.seat_id: SeatSnapshot(s.seat_id, "empty", T0) for s in SEATS}
        self.states.update({s.seat_id: s for s in self.store.load_states()})
        self.uplink = Uplink(cfg, self.store, birth_factory=self.birth, reconnect_delay=(1, 2))
        self.created = 0

    def birth(self):
        return (1, SEATS, list(self.states.values()), [ChannelDef(1)], StateRules())

    def change(self, seat_id: str, at: float) -> None:
        old = self.states[seat_id]
        new = SeatSnapshot(seat_id, "occupied" if old.state == "empty" else "empty", at)
        tr = Transition(seat_id, old.state, new.state, at, Evidence(person_overlap=0.9 if new.state == "occupied" else 0))
        self.store.add_event(tr)
        self.states[seat_id] = new
        self.store.save_states([new])
        self.uplink.publish_event(tr)
        self.uplink.publish_delta([new])
        self.created += 1


def cfg_for(broker, data: Path) -> EdgeConfig:
    return EdgeConfig(edge=EdgeSection(store_id="outage", edge_id="edge1", data_dir=str(data)),
                      mqtt=MqttSection(host=broker.host, port=broker.port, topic_prefix=broker.prefix))

