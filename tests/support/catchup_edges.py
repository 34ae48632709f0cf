"""Many stores' edges coming back at once (issue 21, catch-up), in one process: each store's edge
sends its birth and then its whole outbox backlog of events as fast as the broker takes them,
then, like the real edge's end-to-end rule, sends again what the hub has not confirmed
(``Stored``) until everything is confirmed or ``--settle`` seconds pass.

    python -m tests.support.catchup_edges --port P --prefix X --stores s1:pw1,s2:pw2 --events 800

Prints one JSON line: sent, confirmed, first_publish, last_confirm (epoch s).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import Stored, TopicSpace, decode, encode
from tests.support.flood_edge import birth, event, send, square_grid


class Backlog:
    def __init__(self, port: int, topics: TopicSpace, store: str, password: str, events: int) -> None:
        self.topics, self.store, self.boot = topics, store, uuid.uuid4().hex
        self.confirmed: set[int] = set()
        self.last_confirm = 0.0
        self.lock = threading.Lock()
        self.connected = threading.Event()
        # 4 hours of outbox: event times spread over the 4 hours before now
        base = time.time() - 4 * 3600
        step = 4 * 3600 / max(events, 1)
        self.payloads = {seq: encode(event(store, self.boot, seq, base + (seq - 2) * step))
                         for seq in range(2, events + 2)}
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{store}.edge1", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(f"{store}.edge1", password)
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(2000)
        self.c.on_message, self.c.on_connect = self._on_message, self._on_connect
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_connect(self, c, u, f, rc, pr) -> None:
        if not rc.is_failure:
            c.subscribe(self.topics.topic(self.store, "edge1", "stored"), qos=1)
            self.connected.set()

    def _on_message(self, c, u, m) -> None:
        msg = decode(m.payload)
        if isinstance(msg, Stored) and msg.boot_id == self.boot:
            with self.lock:
                for lo, hi in msg.seqs:
                    self.confirmed.update(range(lo, hi + 1))
                self.last_confirm = time.time()

    def send_birth(self) -> None:
        self.c.publish(self.topics.topic(self.store, "edge1", "birth"),
                       encode(birth(self.store, self.boot, 1, square_grid(4, 0))), qos=1).wait_for_publish(30)

    def send_missing(self) -> int:
        with self.lock:
            missing = [s for s in self.payloads if s not in self.confirmed]
        topic = self.topics.topic(self.store, "edge1", "event")
        for seq in missing:
            send(self.c, topic, self.payloads[seq])
        return len(missing)

    def done(self) -> bool:
        with self.lock:
            return len(self.confirmed & self.payloads.keys()) == len(self.payloads)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--stores", required=True, help="store:password,...")
    p.add_argument("--events", type=int, default=800, help="events in each store's backlog")
    p.add_argument("--settle", type=float, default=600.0)
    p.add_argument("--resend", type=float, default=30.0, help="seconds before unconfirmed events go again")
    a = p.parse_args()
    topics = TopicSpace(a.prefix)
    edges = [Backlog(a.port, topics, s, pw, a.events) for s, pw in (x.split(":", 1) for x in a.stores.split(","))]
    for e in edges:
        assert e.connected.wait(120), f"{e.store}: no CONNACK"  # 500 TLS handshakes on 2 cores take a while
    for e in edges:
        e.send_birth()
    time.sleep(1.0)  # the hub has the layouts
    first = time.time()
    sent = 0
    # all edges at once: one thread each, as 100 boxes coming back together would
    threads = [threading.Thread(target=lambda e=e: e.send_missing()) for e in edges]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = sum(len(e.payloads) for e in edges)
    deadline = first + a.settle
    resend_at = time.time() + a.resend
    while time.time() < deadline and not all(e.done() for e in edges):
        time.sleep(0.5)
        if time.time() >= resend_at:  # the edge's resend timer: what is not confirmed goes again
            resend_at = time.time() + a.resend
            for e in edges:
                if not e.done():
                    e.send_missing()
    last = max(e.last_confirm for e in edges)
    confirmed = sum(len(e.confirmed & e.payloads.keys()) for e in edges)
    for e in edges:
        e.c.disconnect()
        e.c.loop_stop()
    print(json.dumps({"sent": sent, "confirmed": confirmed, "first_publish": first, "last_confirm": last}))


if __name__ == "__main__":
    main()
