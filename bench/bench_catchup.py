"""Catch-up: a region's internet comes back and many stores' edges replay hours of outbox at
once; the hub drains it while the other stores' live events stay fast.

    python -m bench.bench_catchup [--stores 100 --events 800 --calm 2]

Real parts, as shipped: Mosquitto with packaging/mosquitto-seat.conf and the files `seat-hub
broker-acl` writes, every store provisioned with `seat-hub store add` / `store bundle`, one
`seat-hub serve` process on PostgreSQL with its defaults (one broker session per store, fair
batches: ADR 0006). ``--stores`` edges (one process, tests/support/catchup_edges.py) each send
their birth and a backlog of ``--events`` events spread over the last 4 hours, as fast as the
broker takes them, and send again what the hub has not confirmed (end-to-end ``Stored``).
Meanwhile ``--calm`` other stores send live events at 10 per second each; their latency is
publish-to-``Stored`` (the hub confirms after the commit). Also the hub's RSS with every store's
session open (idle, before the catch-up) and at its peak while draining.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Row, parser, report
from protocol import Birth, ChannelDef, Event, SeatDef, SeatSnapshot, Stored, TopicSpace, decode, encode

SEAT_HUB = Path(sys.executable).parent / "seat-hub"
CALM_HZ = 10


class CalmEdge:
    """A store sending live events; publish-to-Stored per event."""

    def __init__(self, port: int, topics: TopicSpace, store: str, password: str) -> None:
        self.topics, self.store, self.boot, self.seq = topics, store, uuid.uuid4().hex, 1
        self.sent: dict[int, float] = {}
        self.stored: dict[int, float] = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{store}.edge1", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(f"{store}.edge1", password)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe(topics.topic(store, "edge1", "stored"), qos=1)

    def _on_message(self, c, u, m) -> None:
        now = time.time()
        msg = decode(m.payload)
        if isinstance(msg, Stored) and msg.boot_id == self.boot:
            with self.lock:
                for lo, hi in msg.seqs:
                    for s in range(lo, hi + 1):
                        self.stored.setdefault(s, now)

    def birth(self) -> None:
        now = time.time()
        seats = [SeatDef(seat_id="s0", channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)])]
        self.c.publish(self.topics.topic(self.store, "edge1", "birth"), encode(Birth(
            store_id=self.store, edge_id="edge1", boot_id=self.boot, seq=1, ts=now, config_version=1, seats=seats,
            channels=[ChannelDef(1)], states=[SeatSnapshot("s0", "empty", now)])), qos=1)

    def send(self) -> int:
        self.seq += 1
        seq, now = self.seq, time.time()
        a, b = ("empty", "occupied") if seq % 2 == 0 else ("occupied", "empty")
        with self.lock:
            self.sent[seq] = now
        self.c.publish(self.topics.topic(self.store, "edge1", "event"), encode(Event(
            store_id=self.store, edge_id="edge1", boot_id=self.boot, seq=seq, ts=now, seat_id="s0", from_state=a,
            to_state=b, at=now)), qos=1)
        return seq

    def latencies(self) -> list[float]:
        with self.lock:
            return sorted(self.stored.get(s, float("inf")) - t for s, t in self.sent.items())


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


EDGES_PER_PROC = 250


def run(args) -> list[Row]:
    from tests.support.seat_broker import Mosquitto, provision
    from tests.support.services import free_port, postgres_database
    from tests.support.waiting import wait_for

    catchup = [f"c{i:03d}" for i in range(args.stores)]
    calm = [f"live{i}" for i in range(args.calm)]
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_database())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        prefix = f"catchup-{uuid.uuid4().hex[:6]}/seat/v1"
        t0 = time.time()
        print(f"provisioning {len(catchup) + len(calm)} stores (store add + bundle each)...", flush=True)
        setup = provision(tmp, prefix, stores=tuple(catchup + calm), db=pg)
        print(f"  {time.time() - t0:.0f} s", flush=True)
        broker = Mosquitto(tmp, setup["files"], edge_listener=True)
        stack.callback(broker.stop)
        cfg = setup["cfg"]
        base_cfg = cfg.read_text().replace("[mqtt]\n", f"[mqtt]\nport = {broker.port}\n")

        def ready(port: int) -> bool:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return r.status_code == 200 and r.json().get("mqtt") == "connected"
            except httpx.HTTPError:
                return False

        hubs: list[subprocess.Popen] = []

        def stop_hubs() -> None:
            for h in hubs:
                h.terminate()
            for h in hubs:
                try:
                    h.wait(30)
                except subprocess.TimeoutExpired:
                    h.kill()
        stack.callback(stop_hubs)
        ports = []
        for i in range(args.replicas):  # replicas share the database and the broker's shared group
            ports.append(free_port())
            rcfg = tmp / f"hub{i}.toml"
            rcfg.write_text(base_cfg + f"\n[http]\nport = {ports[-1]}\n")
            log = stack.enter_context(open(tmp / f"hub{i}.log", "a"))
            hubs.append(subprocess.Popen([str(SEAT_HUB), "serve", "--config", str(rcfg)], stdout=log,
                                         stderr=subprocess.STDOUT))
            if i == 0:  # the first one migrates the database alone
                wait_for(lambda: ready(ports[0]), timeout=120, what="seat-hub serve")
        for port in ports:
            wait_for(lambda port=port: ready(port), timeout=120, what="seat-hub serve replicas")
        topics = TopicSpace(prefix)
        calms = [CalmEdge(broker.tls_port, topics, s, setup["passwords"][s]) for s in calm]
        # every store's session is open when the calm stores' first events come back confirmed
        for c in calms:
            c.birth()

        def sessions_open() -> bool:
            for c in calms:
                c.send()
            time.sleep(1.0)
            return all(c.stored for c in calms)
        wait_for(sessions_open, timeout=120, what="the hub's store sessions")
        time.sleep(args.settle_s)
        procs = [psutil.Process(h.pid) for h in hubs]
        proc = procs[0]
        rss_idle = proc.memory_info().rss / 2**20
        for c in calms:
            with c.lock:
                c.sent.clear()
        peak = [rss_idle]
        cpu0 = [p.cpu_times() for p in procs]
        # paho's loop uses select(): one process holds ~340 clients (3 descriptors each, FD_SETSIZE
        # 1024), so the edges are spread over processes of EDGES_PER_PROC
        groups = [catchup[i:i + EDGES_PER_PROC] for i in range(0, len(catchup), EDGES_PER_PROC)]
        edges = [subprocess.Popen(
            [sys.executable, "-m", "tests.support.catchup_edges", "--port", str(broker.tls_port), "--prefix", prefix,
             "--stores", ",".join(f"{s}:{setup['passwords'][s]}" for s in group), "--events", str(args.events),
             "--settle", str(args.max_s)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)}) for group in groups]
        print(f"{len(catchup)} edges replaying {args.events} events each ({len(edges)} process(es)); "
              f"{len(calm)} live stores at {CALM_HZ}/s", flush=True)
        while any(e.poll() is None for e in edges):
            for c in calms:
                c.send()
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
            time.sleep(1 / CALM_HZ)
        parts = []
        for e in edges:
            out, err = e.communicate()
            if e.returncode != 0:
                raise SystemExit(f"catch-up edges failed: {err[-2000:]}")
            parts.append(json.loads(out.strip().splitlines()[-1]))
        res = {"sent": sum(x["sent"] for x in parts), "confirmed": sum(x["confirmed"] for x in parts),
               "first_publish": min(x["first_publish"] for x in parts),
               "last_confirm": max(x["last_confirm"] for x in parts)}
        cpu1 = [p.cpu_times() for p in procs]
        time.sleep(2.0)
        lat = sorted(x for c in calms for x in c.latencies())
        for c in calms:
            c.c.disconnect()
            c.c.loop_stop()
    drain_s = max(res["last_confirm"] - res["first_publish"], 1e-9)
    rate = res["confirmed"] / drain_s
    hub_cpu = sum((b.user + b.system) - (a.user + a.system) for a, b in zip(cpu0, cpu1))
    n = len(catchup) + len(calm)
    note = (f"{args.replicas} hub replica(s); {len(catchup)} stores x {args.events} events (4 h of outbox each); "
            "confirmed "
            f"{res['confirmed']}/{res['sent']} in {drain_s:.0f} s; hub CPU {hub_cpu:.0f} s "
            f"({res['confirmed'] / max(hub_cpu, 1e-9):.0f} events per hub CPU-second)")
    lat_note = (f"{len(lat)} live events of {len(calm)} other stores at {CALM_HZ}/s each during the drain: "
                f"p50 {pct(lat, 0.5):.3f} s, max {lat[-1] if lat else float('nan'):.2f} s")
    print(note, "|", lat_note, flush=True)
    return [
        Row("catch-up", f"drain rate, {len(catchup)} edges replaying at once, {args.replicas} hub replica(s)", rate,
            "events/s", "", note),
        Row("catch-up", f"other stores' live p95 publish-to-stored during the drain ({len(catchup)} edges, "
            f"{args.replicas} replica(s))", pct(lat, 0.95), "s", "< 1",
            lat_note),
        Row("memory", f"hub RSS, {n} store sessions open, idle (replica 1)", rss_idle, "MB", "",
            "one broker session per store (ADR 0006), all read by one I/O thread"),
        Row("memory", f"hub RSS peak while draining, {n} store sessions", peak[0], "MB", "", "sampled every 0.1 s"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--stores", type=int, default=100, help="stores replaying their outbox at once")
    ap.add_argument("--events", type=int, default=800, help="events in each store's backlog (4 hours)")
    ap.add_argument("--calm", type=int, default=2, help="other stores sending live events")
    ap.add_argument("--max-s", type=float, default=400.0, help="give up after this many seconds")
    ap.add_argument("--settle-s", type=float, default=3.0)
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4],
                    help="seat-hub serve processes on the shared subscription: one run for each count")
    ap.add_argument("--many-stores", type=int, default=500,
                    help="then a run with this many stores connected (their RSS; 0: skip)")
    args = ap.parse_args()
    if args.quick:
        args.stores, args.events, args.calm, args.max_s, args.settle_s = 2, 20, 1, 60.0, 0.5
        args.replicas, args.many_stores = [1, 2], 3
    rows: list[Row] = []
    for n in args.replicas:
        got = run(argparse.Namespace(**{**vars(args), "replicas": n}))
        rows += got if n == args.replicas[0] else [r for r in got if r.section == "catch-up"]
    if args.many_stores:
        # 500 stores each with a short backlog: the hub's memory with every store's session open
        got = run(argparse.Namespace(**{**vars(args), "replicas": 1, "stores": args.many_stores,
                                        "events": max(1, args.stores * args.events // args.many_stores)}))
        rows += [r for r in got if r.section == "memory" or "drain rate" in r.metric]
    report(rows, args.json)


if __name__ == "__main__":
    main()
