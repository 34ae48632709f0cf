"""Test helpers for the hub: a simulated edge over the real broker, settings, polling."""

from __future__ import annotations

import queue
import time
import uuid
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.settings import DatabaseSettings, HubSettings, IngestSettings, MqttSettings
from protocol import (
    Birth,
    ChannelDef,
    Death,
    Delta,
    Event,
    Message,
    ProtocolError,
    SeatDef,
    SeatSnapshot,
    TopicSpace,
    decode,
    encode,
)

T = TypeVar("T")


def hub_settings(broker, db_url: str, **overrides: Any) -> HubSettings:
    return HubSettings(
        database=DatabaseSettings(url=db_url),
        mqtt=MqttSettings(host=broker.host, port=broker.port, topic_prefix=broker.prefix,
                          shared_group=f"g{uuid.uuid4().hex[:8]}",
                          # no kept session: a random client id per app, as two replicas in one
                          # test need (the default id is per host and HTTP port; tests/faults test it)
                          session_expiry_s=0),
        ingest=IngestSettings(batch_max=200, batch_wait_ms=20),
        **overrides,
    )




def square(x: float, y: float, w: float = 0.1) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + w), (x, y + w)]


class SimEdge:
    """Publishes protocol messages like an edge agent would, and records what the hub sends it."""

    def __init__(self, broker, store_id: str = "store-a", edge_id: str = "edge-1", seats: int = 3) -> None:
        self.topics = TopicSpace(broker.prefix)
        self.store_id, self.edge_id = store_id, edge_id
        self.boot_id = uuid.uuid4().hex
        self.seq = 0
        self.seats = [SeatDef(seat_id=f"s{i}", channel=1 + i % 2, polygon=square(0.1 * i, 0.2), label=f"A-{i}")
                      for i in range(seats)]
        self.received: queue.Queue[tuple[str, Message]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        for kind in ("snapshot_request", "config"):
            r = self.client.subscribe(self.topics.topic(store_id, edge_id, kind), qos=1)
            assert r[0] == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.2)  # let the subscriptions settle before the hub can answer

    def _on_message(self, client, userdata, m) -> None:
        # Hostile tests publish garbage on these topics too; a real edge refuses it, and an
        # exception here would only kill paho's network thread.
        try:
            self.received.put((m.topic, decode(m.payload)))
        except ProtocolError:
            pass

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def base(self) -> dict[str, Any]:
        self.seq += 1
        return {"store_id": self.store_id, "edge_id": self.edge_id, "boot_id": self.boot_id, "seq": self.seq,
                "ts": time.time()}

    def send(self, msg: Message, kind: str | None = None) -> Message:
        kind = kind or type(msg).__struct_config__.tag
        info = self.client.publish(self.topics.topic(msg.store_id, msg.edge_id, kind), encode(msg), qos=1)
        info.wait_for_publish(5)
        return msg

    def send_raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def birth(self, states: dict[str, str] | None = None, since: float | None = None, **kw: Any) -> Birth:
        since = time.time() if since is None else since
        states = states or {s.seat_id: "empty" for s in self.seats}
        resumed = kw.pop("resumed", ())  # seat ids whose state the edge carried over its restart
        return self.send(Birth(**self.base(), config_version=kw.pop("config_version", 1), seats=self.seats,
                               channels=[ChannelDef(1, "door"), ChannelDef(2, "window")],
                               states=[SeatSnapshot(k, v, since, k in resumed) for k, v in states.items()], **kw))

    def delta(self, changes: dict[str, str], since: float | None = None, historical: bool = False,
              ts: float | None = None) -> Delta:
        since = time.time() if since is None else since
        base = self.base()
        if ts is not None:
            base["ts"] = ts
        return self.send(Delta(**base, changes=[SeatSnapshot(k, v, since) for k, v in changes.items()],
                               historical=historical))

    def event(self, seat_id: str, frm: str, to: str, at: float | None = None, historical: bool = False) -> Event:
        return self.send(Event(**self.base(), seat_id=seat_id, from_state=frm, to_state=to,
                               at=time.time() if at is None else at, historical=historical))

    def death(self) -> Death:
        return self.send(Death(**self.base(), reason="shutdown"))

    def wait_received(self, kind: type, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, msg = self.received.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(msg, kind):
                return msg
        raise AssertionError(f"edge {self.edge_id} received no {kind.__name__} within {timeout}s")
