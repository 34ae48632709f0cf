"""Live latency: from an edge's publish to a browser-side WebSocket receive, with N dashboard
clients connected, and what a 30-day statistics request does to it; hub RSS under that load.

    python -m bench.bench_live [--clients 200 --deltas 80 --rate 10] [--quick]

Real parts: a private Mosquitto, a fresh PostgreSQL database, the hub as its own process
(``python -m hub serve``). A simulated edge (paho, this process) publishes a 150-seat birth, then
one delta per 1/rate s whose changed seat's ``since`` is the publish time; N WebSocket clients
(Python ``websockets``, all in this process: no browser, and they share the 2 CPUs with the hub)
subscribe to the store page's socket and record receive time minus ``since``.
Phase "steady": deltas only. Phase "stats": the same while 30-day statistics are requested back
to back over HTTP (30 days of transitions for 150 seats are seeded first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from websockets.asyncio.client import connect

from bench.common import REPO, Row, hub_broker, parser, report
from protocol import Birth, Delta, SeatDef, SeatSnapshot, TopicSpace, encode

STORE, EDGE, SEATS = "bench", "edge1", 150


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def seed_history(url: str, days: int) -> int:
    """30 days of plausible transitions per seat (about 16 a day), straight into seat_events."""
    import random

    from sqlalchemy import insert

    from hub.db.models import SeatEvent
    from hub.db.session import make_engine

    eng = make_engine(url)
    rnd = random.Random(3)
    now = time.time()
    rows = []
    for s in range(SEATS):
        t, state, seq = now - days * 86400, "empty", 0
        while t < now - 60:
            t += rnd.expovariate(1 / 5400)
            nxt = rnd.choice([x for x in ("empty", "occupied", "away", "abandoned") if x != state])
            seq += 1
            rows.append(dict(store_id=STORE, seat_id=f"s{s}", edge_id=EDGE, boot_id="history", seq=s * 100000 + seq,
                             from_state=state, to_state=nxt, at=t, evidence={}, historical=True, received_at=t))
            state = nxt
    async with eng.begin() as conn:
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(SeatEvent), rows[i:i + 5000])
    # seeded around the writer: roll them up as it does for what it stores (the stats read rollups)
    from hub.db.session import make_sessionmaker
    from hub.stats.rollup_db import rebuild_store

    async with make_sessionmaker(eng)() as db, db.begin():
        await rebuild_store(db, STORE)
    await eng.dispose()
    return len(rows)


class Edge:
    def __init__(self, port: int, prefix: str) -> None:
        self.topics = TopicSpace(prefix)
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.base = dict(store_id=STORE, edge_id=EDGE, boot_id=uuid.uuid4().hex)
        self.seq = 0

    def send(self, kind: str, msg) -> None:
        self.c.publish(self.topics.topic(STORE, EDGE, kind), encode(msg), qos=1)

    def birth(self) -> None:
        self.seq += 1
        now = time.time()
        seats = [SeatDef(seat_id=f"s{i}", channel=1 + i % 16, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)])
                 for i in range(SEATS)]
        self.send("birth", Birth(**self.base, seq=self.seq, ts=now, config_version=1, seats=seats,
                                 states=[SeatSnapshot(s.seat_id, "empty", now) for s in seats]))

    def delta(self, i: int) -> None:
        self.seq += 1
        now = time.time()
        state = ("occupied", "away", "empty")[i % 3]
        self.send("delta", Delta(**self.base, seq=self.seq, ts=now, changes=[SeatSnapshot(f"s{i % SEATS}", state, now)]))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


async def run(args, port: int, url: str) -> list[Row]:
    from tests.support.services import free_port

    with contextlib.ExitStack() as stack:
        prefix = f"bench-{uuid.uuid4().hex[:6]}/seat/v1"
        http_port = free_port()
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        cfg = tmp / "hub.toml"
        cfg.write_text(f'[database]\nurl = "{url}"\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\n'
                       f'topic_prefix = "{prefix}"\n[ingest]\nbatch_wait_ms = {args.batch_wait_ms}\n[http]\nhost = "127.0.0.1"\nport = {http_port}\n')
        env = dict(os.environ, PYTHONPATH=str(REPO))
        hub = subprocess.Popen([sys.executable, "-m", "hub", "serve", "--config", str(cfg), "--log-level", "warning"],
                               env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                               stderr=stack.enter_context(open(tmp / "hub.log", "w")))
        stack.callback(lambda: (hub.terminate(), hub.wait(10)))
        base = f"http://127.0.0.1:{http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or hub.poll() is not None:
                    raise SystemExit(f"hub did not start: {(tmp / 'hub.log').read_text()[-2000:]}")
                await asyncio.sleep(0.3)
            # the dashboard needs a login: an admin user, logged in through the real form
            from tests.support.hub_auth import acreate_user, alogin

            await acreate_user(url, "bench", "admin")
            await alogin(http, "bench")
            edge = Edge(port, prefix)
            stack.callback(edge.close)
            edge.birth()
            while (await http.get(f"/api/v1/stores/{STORE}")).status_code != 200:
                await asyncio.sleep(0.1)
            n_events = await seed_history(url, args.days)
            rows = await measure(args, edge, http, hub.pid, base, n_events)
            return rows + [sigterm_row(hub)]


def sigterm_row(hub: subprocess.Popen) -> Row:
    """SIGTERM to the hub after the load (its statistics worker processes have run): how many of its
    processes are still there 10 s later (the issue's three ~100 MB orphans)."""
    kids = psutil.Process(hub.pid).children(recursive=True)
    hub.terminate()
    t0 = time.monotonic()
    with contextlib.suppress(subprocess.TimeoutExpired):
        hub.wait(30)
    exit_s = time.monotonic() - t0
    time.sleep(max(0.0, 10 - exit_s))
    left = [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    return Row("process", "hub processes left 10 s after SIGTERM (stats workers included)",
               len(left) + (hub.poll() is None), "processes", "<= 0",
               f"{len(kids)} child process(es) before; the hub exited in {exit_s:.1f} s")


async def measure(args, edge: Edge, http: httpx.AsyncClient, hub_pid: int, base: str, n_events: int) -> list[Row]:
    phase = {"name": "warmup"}
    lat: dict[str, list[float]] = {"warmup": [], "steady": [], "stats": []}
    ws_url = base.replace("http", "ws") + f"/ws/stores/{STORE}"

    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())

    async def client(ready: asyncio.Event, counter: list[int]) -> None:
        async with connect(ws_url, max_queue=None, ping_interval=None, additional_headers={"Cookie": cookie}) as ws:
            counter[0] += 1
            if counter[0] == args.clients:
                ready.set()
            async for text in ws:
                t = time.time()
                msg = json.loads(text)
                for s in msg.get("seats", ()):
                    lat[phase["name"]].append((t - s["since"]) * 1000)

    ready, counter = asyncio.Event(), [0]
    tasks = [asyncio.create_task(client(ready, counter)) for _ in range(args.clients)]
    await asyncio.wait_for(ready.wait(), 60)
    hub = psutil.Process(hub_pid)
    rss_peak = [hub.memory_info().rss, 0]

    def sample_rss() -> None:
        rss_peak[0] = max(rss_peak[0], hub.memory_info().rss)
        with contextlib.suppress(psutil.Error):  # the stats worker process(es), once started
            kids = sum(c.memory_info().rss for c in hub.children(recursive=True))
            rss_peak[1] = max(rss_peak[1], kids)

    async def publish(n: int) -> None:
        for i in range(n):
            edge.delta(i)
            sample_rss()
            await asyncio.sleep(1 / args.rate)
        await asyncio.sleep(0.5)  # the last ones arrive

    await publish(5)
    # one stats request before measuring: the hub starts its statistics worker process on the first
    (await http.get(f"/api/v1/stores/{STORE}/stats", params={"from": f"{time.time() - 3600:.0f}"})).raise_for_status()
    phase["name"] = "steady"
    await publish(args.deltas)
    phase["name"] = "stats"
    stats_s: list[float] = []
    size = [0]
    stop = asyncio.Event()

    async def stats_loop() -> None:
        frm = time.time() - args.days * 86400 + 60
        url = f"{base}/api/v1/stores/{STORE}/stats?from={frm:.0f}&bucket=hour"
        while not stop.is_set():
            # curl, a process of its own: reading 31 MB here would take CPU from the WebSocket
            # clients in this process and show up as hub latency
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                "curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}", "-H", f"Cookie: {cookie}", url,
                stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"stats request failed (curl exit {proc.returncode})")
            stats_s.append(time.perf_counter() - t0)
            size[0] = int(out or 0)

    st = asyncio.create_task(stats_loop())
    spy = None
    if args.profile:  # py-spy on the hub process during this phase (what holds its event loop)
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(hub_pid), "-f", "raw",
                                "-o", str(args.profile), "-d", str(int(args.deltas / args.rate)), "-r", "100"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await publish(args.deltas)
    if spy is not None:
        spy.wait(30)
    stop.set()
    await st
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    steady, during = lat["steady"], lat["stats"]
    note = (f"{args.clients} WebSocket clients (Python websockets, one process), {args.rate:g} deltas/s, "
            f"{len(steady)} receives")
    snote = (f"{len(stats_s)} 30-day stats requests ({n_events:,} seeded transitions, 150 seats), "
             f"median {statistics.median(stats_s) if stats_s else 0:.2f} s each, {size[0] / 2**20:.1f} MB of JSON each; "
             f"{len(during)} receives")
    return [
        Row("live", f"publish -> WebSocket receive p50, {args.clients} clients", pct(steady, 50), "ms", "", note),
        Row("live", f"publish -> WebSocket receive p95, {args.clients} clients", pct(steady, 95), "ms", "<= 100", note),
        Row("live", "p95 while 30-day stats are requested back to back", pct(during, 95), "ms", "<= 100", snote),
        Row("live", "max while 30-day stats are requested back to back", max(during) if during else None, "ms", "",
            snote),
        Row("stats", "30-day hourly stats request, 150 seats (median)",
            statistics.median(stats_s) if stats_s else None, "s", "", snote),
        Row("memory", "hub stats worker process RSS (peak, separate process)", rss_peak[1] / 2**20, "MB", "",
            "computes and encodes the 30-day answer (31 MB of JSON)"),
        Row("memory", "hub process RSS under this load (peak)", rss_peak[0] / 2**20, "MB", "< 300",
            "hub serving 200 sockets + ingest + stats queries"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--deltas", type=int, default=80, help="deltas per phase")
    ap.add_argument("--rate", type=float, default=10.0, help="deltas per second")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--profile", type=Path, help="py-spy the hub during the stats phase into this raw file")
    ap.add_argument("--batch-wait-ms", type=float, default=10.0, help="the hub's ingest.batch_wait_ms")
    args = ap.parse_args()
    if args.quick:
        args.clients, args.deltas, args.days = 5, 10, 2
    from tests.support.services import postgres_database

    with hub_broker() as port, postgres_database() as url:
        rows = asyncio.run(run(args, port, url))
    report(rows, args.json)


if __name__ == "__main__":
    main()
