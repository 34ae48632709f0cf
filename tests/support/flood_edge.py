"""A hostile-but-valid edge for the fairness tests (issue 20, item 5), run as its own process so
its publishing does not share the test's (or the hub's) interpreter.

``--kind events``: one birth, then ``--count`` valid events as fast as paho can send them (QoS 1,
1000 in flight), for at most ``--seconds``. Then, like the real edge's end-to-end rule, it sends
again every event the hub has not confirmed (``Stored`` on its own topic) until all are
confirmed or ``--settle`` seconds pass. ``--kind births``: ``--count`` valid births of
``--seats`` seats, each with a slightly different layout (no cache can skip the work).

Prints one JSON line: sent, confirmed, elapsed.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import Birth, ChannelDef, Event, SeatDef, SeatSnapshot, Stored, TopicSpace, decode, encode


def square_grid(n: int, jitter: float) -> list[SeatDef]:
    side = int(n ** 0.5) + 1
    w = 0.8 / side
    out = []
    for i in range(n):
        x, y = 0.05 + (i % side) * w, 0.05 + (i // side) * w
        d = w * 0.6 + jitter
        out.append(SeatDef(seat_id=f"s{i}", channel=1 + i % 4, polygon=[(x, y), (x + d, y), (x + d, y + d), (x, y + d)]))
    return out


def birth(store: str, boot: str, seq: int, seats: list[SeatDef]) -> Birth:
    now = time.time()
    return Birth(store_id=store, edge_id="edge1", boot_id=boot, seq=seq, ts=now, config_version=1, seats=seats,
                 channels=[ChannelDef(c) for c in range(1, 5)],
                 states=[SeatSnapshot(s.seat_id, "empty", now) for s in seats])


def event(store: str, boot: str, seq: int, at: float) -> Event:
    a, b = ("empty", "occupied") if seq % 2 == 0 else ("occupied", "empty")
    return Event(store_id=store, edge_id="edge1", boot_id=boot, seq=seq, ts=at, seat_id="s0", from_state=a,
                 to_state=b, at=at)


def send(c: mqtt.Client, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
    """Publish QoS 1 as fast as the broker takes it: wait only while paho's own queue is full."""
    while True:
        info = c.publish(topic, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            return info
        time.sleep(0.001)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--kind", choices=["events", "births"], default="events")
    p.add_argument("--count", type=int, default=50_000)
    p.add_argument("--seats", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=90.0)
    a = p.parse_args()
    topics = TopicSpace(a.prefix)
    boot = uuid.uuid4().hex
    confirmed: set[int] = set()
    lock = threading.Lock()
    connected = threading.Event()

    def on_message(c, u, m) -> None:
        msg = decode(m.payload)
        if isinstance(msg, Stored) and msg.boot_id == boot:
            with lock:
                for lo, hi in msg.seqs:
                    confirmed.update(range(lo, hi + 1))

    def on_connect(c, u, f, rc, pr) -> None:
        if not rc.is_failure:
            c.subscribe(topics.topic(a.store, "edge1", "stored"), qos=1)
            connected.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{a.store}.edge1", protocol=mqtt.MQTTv5)
    c.username_pw_set(f"{a.store}.edge1", a.password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(5000)  # paho's own queue: the flood runs at the broker's pace
    c.on_message, c.on_connect = on_message, on_connect
    c.connect("127.0.0.1", a.port)
    c.loop_start()
    assert connected.wait(10), "no CONNACK"
    time.sleep(0.3)
    t0 = time.time()
    sent = 0
    if a.kind == "births":
        payloads = [encode(birth(a.store, boot, i + 1, square_grid(a.seats, (i % 7) * 0.0001)))
                    for i in range(a.count)]
        t0 = time.time()
        info = None
        for payload in payloads:
            if time.time() - t0 > a.seconds:
                break
            info = send(c, topics.topic(a.store, "edge1", "birth"), payload)
            sent += 1
        if info is not None:
            info.wait_for_publish(a.settle)
        out = {"sent": sent, "bytes_each": len(payloads[0])}
    else:
        topic = topics.topic(a.store, "edge1", "event")
        c.publish(topics.topic(a.store, "edge1", "birth"), encode(birth(a.store, boot, 1, square_grid(4, 0))),
                  qos=1).wait_for_publish(10)
        base = time.time() - a.count * 0.001 - 10
        payloads = {seq: encode(event(a.store, boot, seq, base + seq * 0.001)) for seq in range(2, a.count + 2)}
        t0 = time.time()
        info = None
        for payload in payloads.values():
            if time.time() - t0 > a.seconds:
                break
            info = send(c, topic, payload)
            sent += 1
        if info is not None:
            info.wait_for_publish(a.seconds)
        flood_s = time.time() - t0  # until the broker took the last one
        # the end-to-end rule: send again what the hub has not confirmed, in order and in chunks
        # smaller than the broker's queue for the hub (as an edge replays its outbox), until all are
        deadline = time.time() + a.settle
        resent = 0
        while time.time() < deadline:
            with lock:
                missing = [s for s in range(2, sent + 2) if s not in confirmed]
            if not missing:
                break
            chunk = missing[:5000]
            for s in chunk:
                send(c, topic, payloads[s])
            resent += len(chunk)
            last, still = -1, 0.0
            while time.time() < deadline and still < 2.0:  # until this chunk stops making progress
                time.sleep(0.25)
                with lock:
                    left = sum(1 for s in chunk if s not in confirmed)
                if left == 0:
                    break
                still = still + 0.25 if left == last else 0.0
                last = left
        with lock:
            out = {"sent": sent, "confirmed": len([s for s in confirmed if 2 <= s < sent + 2]),
                   "resent": resent, "flood_s": round(flood_s, 2)}
    out["elapsed"] = round(time.time() - t0, 2)
    print(json.dumps(out), flush=True)
    c.disconnect()
    c.loop_stop()


if __name__ == "__main__":
    main()
