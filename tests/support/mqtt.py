"""MQTT test helpers: an edge config for a broker, a subscriber standing in for the hub, a TCP gate."""

from __future__ import annotations

import socket
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.settings import parse_config
from protocol import Birth, Delta, SeatSnapshot, StateRules, decode


def make_cfg(host: str, port: int, prefix: str, store_id: str = "teststore", edge_id: str = "edge1",
             data_dir: str = "/tmp/unused"):
    return parse_config({"edge": {"store_id": store_id, "edge_id": edge_id, "data_dir": data_dir},
                         "mqtt": {"host": host, "port": port, "topic_prefix": prefix, "keepalive_s": 5}})




class Subscriber:
    """Stands in for the hub: records every message under a filter, in arrival order."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        self.host, self.port, self.filter = host, port, topic_filter
        self.raw: list[tuple[str, bytes, bool]] = []  # (topic, payload, retain)
        self._lock = threading.Lock()
        self.client: mqtt.Client | None = None

    def connect(self) -> Subscriber:
        subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        c.on_message = lambda cl, ud, m: self._add(m)
        c.on_subscribe = lambda *a: subscribed.set()
        c.connect(self.host, self.port, keepalive=10)
        c.loop_start()
        c.subscribe(self.filter, qos=1)
        assert subscribed.wait(10), "subscriber got no SUBACK"
        self.client = c
        return self

    def _add(self, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.raw.append((m.topic, bytes(m.payload), bool(m.retain)))

    def close(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()
            self.client = None

    def messages(self) -> list:
        with self._lock:
            raw = list(self.raw)
        out = []
        for _topic, payload, _retain in raw:
            if payload:
                out.append(decode(payload))
        return out

    def of(self, kind: type) -> list:
        return [m for m in self.messages() if isinstance(m, kind)]


class Gate:
    """A TCP pass-through in front of the broker; while closed it hangs up on new clients."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.is_open = True
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self.is_open:
                conn.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                conn.close()
                continue
            up.settimeout(None)
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.sock.close()


class Seats:
    """The test's 'pipeline': current seat states, which the birth factory reports."""

    def __init__(self, n: int) -> None:
        self.lock = threading.Lock()
        self.states = {f"S{i}": SeatSnapshot(f"S{i}", "unknown", 0.0) for i in range(n)}

    def set(self, seat_id: str, state: str, at: float) -> SeatSnapshot:
        with self.lock:
            snap = SeatSnapshot(seat_id, state, at)
            self.states[seat_id] = snap
            return snap

    def birth(self):
        with self.lock:
            return 1, [], sorted(self.states.values(), key=lambda s: s.seat_id), [], StateRules()


def hub_fold(messages: list) -> dict[str, SeatSnapshot]:
    """What a hub ends with: the last birth's snapshot, then live deltas after it."""
    state: dict[str, SeatSnapshot] = {}
    for m in messages:
        if isinstance(m, Birth):
            state = {s.seat_id: s for s in m.states}
        elif isinstance(m, Delta) and not m.historical:
            for c in m.changes:
                state[c.seat_id] = c
    return state

