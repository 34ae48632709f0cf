"""Hub-pushed config: the pure decision, then the round trip over a real Mosquitto."""

from __future__ import annotations

import logging

from edge_agent.seats.config_apply import evaluate_config
from edge_agent.storage.db import EdgeStore
from edge_agent.uplink import Uplink
from protocol import Config, ConfigAck, SeatDef, StateRules, encode
from tests.support.mqtt import Seats, Subscriber, make_cfg
from tests.support.waiting import wait_for

SQ = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]
BOWTIE = [(0.1, 0.1), (0.4, 0.4), (0.4, 0.1), (0.1, 0.4)]  # edges cross
DEFAULT_RULES = StateRules()


def cfg_msg(version: int, seats: list[SeatDef], store_id: str = "teststore", edge_id: str = "edge1",
            rules: StateRules = DEFAULT_RULES) -> Config:
    return Config(store_id=store_id, edge_id=edge_id, ts=1.0, version=version, seats=seats, rules=rules)


def test_newer_valid_config_is_applied():
    d = evaluate_config(1, cfg_msg(2, [SeatDef("A1", 1, SQ)]), [1, 2], store_id="teststore", edge_id="edge1")
    assert (d.action, d.version, d.error) == ("apply", 2, None)


def test_same_or_older_version_is_ignored():
    assert evaluate_config(2, cfg_msg(2, [SeatDef("A1", 1, SQ)]), [1]).action == "ignore"
    d = evaluate_config(3, cfg_msg(2, [SeatDef("A1", 1, SQ)]), [1])
    assert d.action == "ignore" and "older" in d.reason


def test_invalid_layouts_are_rejected_with_the_reason():
    cases = {
        "crossing": ([SeatDef("A1", 1, BOWTIE)], "cross"),
        "outside": ([SeatDef("A1", 1, [(0.1, 0.1), (1.4, 0.1), (0.4, 0.4)])], "outside 0..1"),
        "channel": ([SeatDef("A1", 9, SQ)], "channel 9"),
        "duplicate": ([SeatDef("A1", 1, SQ), SeatDef("A1", 1, SQ)], "duplicate seat id"),
    }
    for name, (seats, needle) in cases.items():
        d = evaluate_config(1, cfg_msg(2, seats), [1, 2])
        assert d.action == "reject", name
        assert needle in d.error, (name, d.error)
    d = evaluate_config(1, cfg_msg(2, [SeatDef("A1", 1, SQ)], rules=StateRules(exit_s=-1)), [1])
    assert d.action == "reject" and "exit_s must be >= 0" in d.error
    d = evaluate_config(1, cfg_msg(2, [SeatDef("A1", 1, SQ)], rules=StateRules(abandoned_after_s=0)), [1])
    assert d.action == "reject" and "abandoned_after_s must be > 0" in d.error
    d = evaluate_config(1, cfg_msg(2, [SeatDef("A1", 1, SQ)], rules=StateRules(enter_samples=0)), [1])
    assert d.action == "reject" and "enter_samples must be >= 1" in d.error
    # hysteresis counted in samples only (0 s) is a valid choice
    d = evaluate_config(1, cfg_msg(2, [SeatDef("A1", 1, SQ)], rules=StateRules(enter_s=0, enter_samples=3)), [1])
    assert d.action == "apply"


def test_config_for_another_store_or_edge_is_rejected():
    d = evaluate_config(1, cfg_msg(2, [], store_id="other"), [1], store_id="teststore", edge_id="edge1")
    assert d.action == "reject" and "store 'other'" in d.error
    d = evaluate_config(1, cfg_msg(2, [], edge_id="edge9"), [1], store_id="teststore", edge_id="edge1")
    assert d.action == "reject" and "edge 'edge9'" in d.error


class Applier:
    """What the agent does with on_config: decide, persist, ack (mirrors EdgeAgent.apply_config)."""

    def __init__(self, store: EdgeStore, channels: list[int]) -> None:
        self.store, self.channels, self.uplink = store, channels, None
        self.applied: list[int] = []

    def __call__(self, msg: Config) -> None:
        cur = self.store.get_config()
        d = evaluate_config(cur.version if cur else 0, msg, self.channels, store_id="teststore", edge_id="edge1")
        if d.action == "apply":
            self.store.set_config(msg.version, msg.seats, msg.rules)
            self.applied.append(msg.version)
            self.uplink.publish_config_ack(msg.version, True)
        elif d.action == "reject":
            self.uplink.publish_config_ack(msg.version, False, d.error)


def test_retained_config_round_trip_over_mqtt(broker, tmp_path, caplog):
    store = EdgeStore(tmp_path / "edge.db")
    cfg = make_cfg(broker.host, broker.port, broker.prefix)
    hub = Subscriber(broker.host, broker.port, f"{broker.prefix}/teststore/edge1/config_ack").connect()
    topic = f"{broker.prefix}/teststore/edge1/config"
    good = [SeatDef("A1", 1, SQ, label="A-1"), SeatDef("A2", 2, SQ)]
    # The hub pushed v2 (retained) while the edge was off.
    hub.client.publish(topic, encode(cfg_msg(2, good)), qos=1, retain=True).wait_for_publish(5)
    applier = Applier(store, [1, 2])
    up = Uplink(cfg, store, birth_factory=Seats(1).birth, on_config=applier, reconnect_delay=(0.2, 1))
    applier.uplink = up
    try:
        up.start()
        wait_for(lambda: hub.of(ConfigAck), what="ack of the retained config")
        ack = hub.of(ConfigAck)[0]
        assert (ack.version, ack.ok, ack.error) == (2, True, None)
        assert store.get_config().version == 2 and store.get_config().seats == good

        # Older version: ignored, no ack.
        hub.client.publish(topic, encode(cfg_msg(1, [SeatDef("Z", 1, SQ)])), qos=1, retain=True).wait_for_publish(5)
        # Invalid layout: error ack, old config stays.
        hub.client.publish(topic, encode(cfg_msg(3, [SeatDef("B1", 1, BOWTIE)])), qos=1,
                           retain=True).wait_for_publish(5)
        wait_for(lambda: len(hub.of(ConfigAck)) == 2, what="error ack")
        bad = hub.of(ConfigAck)[1]
        assert bad.version == 3 and bad.ok is False and "seat 'B1'" in bad.error
        # Undecodable payload: logged with the topic, ignored.
        with caplog.at_level(logging.WARNING, logger="edge_agent.uplink"):
            hub.client.publish(topic, b"not msgpack at all", qos=1, retain=True).wait_for_publish(5)
            wait_for(lambda: "ignored malformed message on " + topic in caplog.text, what="malformed log")
        assert len(hub.of(ConfigAck)) == 2
        assert applier.applied == [2]
        assert store.get_config().version == 2 and store.get_config().seats == good
    finally:
        hub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clean up the retained config
        up.stop(2)
        hub.close()
        store.close()
