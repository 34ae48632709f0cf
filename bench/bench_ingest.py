"""Ingest throughput: simulated edges publish deltas over the real broker into PostgreSQL
through the real hub consumer (paho thread -> asyncio queue -> batched writer).

    python -m bench.bench_ingest [--edges 8 --seats 100 --deltas 500 --changes 1 5 --pg URL] [--mode drain]

Without --pg a throwaway database is created on 127.0.0.1:5432 (trust auth) and dropped after.

Two modes:
- ``drain`` (default): the hub is connected and subscribed, but its network loop is paused while
  the edges publish everything (the broker queues it, as it does for a hub that falls behind);
  then the loop resumes and the figure is the time from resuming until the last delta is
  committed. This is the hub's own rate: on this 2-core machine 8 Python publisher processes
  cannot produce 20,000 messages/s, so ``live`` mostly measures the publishers.
- ``live``: from the first publish until the last delta is committed, publishers running.

Besides Deltas only (1 and 5 changes per message, shapes the edge never sends), one run at the
edge's real mix: per seat change an Event with its evidence and a one-seat Delta (issue 21).

Exactly-once is checked after every run: the ``ingested`` rows equal the messages published, and
the seat_states rows equal the last change each edge published per seat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from bench.common import Row, hub_broker, parser, report
from hub.db.migrate import upgrade_async
from hub.db.models import Ingested, SeatStateRow
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.consumer import IngestConsumer
from hub.ingest.writer import IngestWriter
from hub.live.fanout import LiveHub
from hub.mqtt.client import MqttClient
from hub.mqtt.live_relay import MqttLiveRelay
from hub.settings import DatabaseSettings, HubSettings, MqttSettings
from hub.system.metrics import HubMetrics
from protocol import SEAT_STATES, Birth, Delta, Event, Evidence, SeatDef, SeatSnapshot, TopicSpace, encode

DUPLICATES = 50  # deltas each edge sends twice (a redelivery): must be stored once


def changes_for(store: str, seats: int, deltas: int, changes_per_delta: int) -> list[list[tuple[str, str]]]:
    """The (seat, state) changes of every delta of one edge: the same in the publisher and in
    the exactly-once check."""
    rnd = random.Random(store)
    return [[(f"s{rnd.randrange(seats)}", rnd.choice(SEAT_STATES[:4])) for _ in range(changes_per_delta)]
            for _ in range(deltas)]


# What the edge attaches to each transition (edge_agent/seats/assign.py): ~300 B with the rest.
EVIDENCE = Evidence(person_overlap=0.62, person_conf=0.81, item_count=2, item_classes=["backpack", "laptop"],
                    change_score=0.34)


def edge_publisher(host: str, port: int, topics: TopicSpace, store: str, seats: int, deltas: int,
                   changes_per_delta: int, start, done, mix: bool = False) -> None:
    """``mix``: the edge's real traffic, an Event (with evidence) and a one-seat Delta per change
    (edge_agent/uplink.py), instead of Deltas only."""
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    c.max_inflight_messages_set(100)
    c.connect(host, port)
    c.loop_start()
    boot, now = uuid.uuid4().hex, time.time()
    defs = [
        SeatDef(seat_id=f"s{i}", channel=i % 16, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)]) for i in range(seats)
    ]
    base = dict(store_id=store, edge_id="edge", boot_id=boot)
    c.publish(
        topics.topic(store, "edge", "birth"),
        encode(Birth(**base, seq=1, ts=now, config_version=1, seats=defs,
                     states=[SeatSnapshot(d.seat_id, "empty", now) for d in defs])),
        qos=1,
    ).wait_for_publish(10)
    plan = changes_for(store, seats, deltas, changes_per_delta)
    payloads: list[tuple[str, bytes]] = []
    delta_topic, event_topic = topics.topic(store, "edge", "delta"), topics.topic(store, "edge", "event")
    seq, state = 1, {d.seat_id: "empty" for d in defs}
    for i, ch in enumerate(plan):
        t = now + 1 + i * 0.001
        if mix:
            (sid, st), = ch
            seq += 1
            payloads.append((event_topic, encode(Event(**base, seq=seq, ts=t, seat_id=sid, from_state=state[sid],
                                                       to_state=st, at=t, evidence=EVIDENCE))))
            state[sid] = st
        seq += 1
        payloads.append((delta_topic, encode(Delta(**base, seq=seq, ts=t,
                                                   changes=[SeatSnapshot(sid, st, t) for sid, st in ch]))))
    start.wait()
    last = None
    for topic, p in payloads + payloads[:DUPLICATES]:
        last = c.publish(topic, p, qos=1)
    if last is not None:
        last.wait_for_publish(120)
    done.wait()
    c.disconnect()
    c.loop_stop()


async def run(args: argparse.Namespace, url: str, changes: int, mix: bool = False) -> list[Row]:
    prefix = f"bench-{uuid.uuid4().hex[:6]}/seat/v1"
    settings = HubSettings(
        database=DatabaseSettings(url=url),
        mqtt=MqttSettings(host=args.host, port=args.port, topic_prefix=prefix),
    )
    engine = make_engine(url)
    await upgrade_async(engine)
    sm = make_sessionmaker(engine)
    metrics = HubMetrics()
    client = MqttClient(settings, metrics)
    relay = MqttLiveRelay(client)
    ingest = IngestConsumer(settings, client, IngestWriter(sm, TopicSpace(prefix)), LiveHub(relay), metrics)
    await client.start()
    await ingest.start()
    if not await client.wait_ready(10):
        raise SystemExit(f"hub could not subscribe on {args.host}:{args.port}")
    # Edges are separate processes, as in the field (threads here would fight the hub for the GIL).
    ctx = mp.get_context("spawn")
    start, done = ctx.Barrier(args.edges + 1), ctx.Barrier(args.edges + 1)
    procs = [
        ctx.Process(target=edge_publisher, args=(args.host, args.port, TopicSpace(prefix), f"store-{i}",
                                                 args.seats, args.deltas, changes, start, done, mix))
        for i in range(args.edges)
    ]
    for p in procs:
        p.start()
    per_change = 2 if mix else 1  # messages per delta of the plan
    expected = args.edges * (args.deltas * per_change + 1)

    async def count() -> int:
        async with sm() as s:
            return (await s.execute(select(func.count()).select_from(Ingested))).scalar_one()

    while await count() < args.edges:  # the births
        await asyncio.sleep(0.05)
    if args.mode == "drain":
        client.client.loop_stop()  # the broker queues what the edges publish meanwhile
    await asyncio.to_thread(start.wait)
    t0 = time.perf_counter()
    if args.mode == "drain":
        # the publishers are done once every message (duplicates included) reached the broker
        while not _all_waiting(done, args.edges):
            await asyncio.sleep(0.05)
        client.client.loop_start()
        t0 = time.perf_counter()
    proc = psutil.Process()
    cpu0 = proc.cpu_times()
    last_n, last_change = -1, time.perf_counter()
    while True:
        n = await count()
        now = time.perf_counter()
        if n != last_n:
            last_n, last_change = n, now
        if n >= expected and metrics.duplicates._value.get() >= args.edges * DUPLICATES:
            break
        if now - last_change > 10:
            break  # nothing more arrives (the broker dropped some: reported below)
        await asyncio.sleep(0.02)
    elapsed = last_change - t0
    cpu1 = proc.cpu_times()
    await asyncio.to_thread(done.wait)
    for p in procs:
        p.join()
    # Exactly once: every message stored once, the final state of every seat is the last one sent.
    async with sm() as s:
        states = {(r.store_id, r.seat_id): r.state for r in (await s.execute(select(SeatStateRow))).scalars()}
    want = {}
    for i in range(args.edges):
        for ch in changes_for(f"store-{i}", args.seats, args.deltas, changes):
            for sid, st in ch:
                want[(f"store-{i}", sid)] = st
    wrong = sum(1 for k, st in want.items() if states.get(k) != st)
    relay.close()
    await ingest.stop()
    await client.stop()
    await engine.dispose()
    msgs = n - args.edges  # messages actually ingested (births excluded)
    seat_deltas = msgs * changes // per_change
    hub_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    hist = metrics.batch_size.collect()[0].samples
    batches = next(s.value for s in hist if s.name.endswith("_count"))
    ok = n == expected and wrong == 0
    shape = ("the edge's mix: Event + one-seat Delta per change" if mix
             else f"{changes} seat change(s)/delta, deltas only")
    note = (f"{args.mode}: {args.edges} edges x {args.deltas} {'changes' if mix else 'deltas'}, {shape}, "
            f"+{DUPLICATES}/edge redelivered; {batches:.0f} batches; exactly-once "
            + ("kept" if ok else f"BROKEN: {n}/{expected} stored, {wrong} seats wrong"))
    print(note, flush=True)
    if mix:
        rows = [
            Row("ingest", "seat changes/s through the broker, the edge's mix (Event + Delta per change)",
                seat_deltas / elapsed, "changes/s", ">= 20,000", note),
            Row("ingest", "messages/s through the broker, the edge's mix", msgs / elapsed, "msgs/s", ""),
        ]
        if hub_cpu > 0:
            rows.append(Row("ingest", "seat changes per hub CPU-second, the edge's mix", seat_deltas / hub_cpu,
                            "changes/CPU-s", "", "hub process CPU (paho thread + writer + count polling)"))
        return rows
    rows = [
        Row("ingest", f"seat deltas/s into PostgreSQL, {changes} change(s) per delta message", seat_deltas / elapsed,
            "deltas/s", ">= 20,000", note),
        Row("ingest", f"delta messages/s, {changes} change(s) per delta message", msgs / elapsed, "msgs/s", ""),
    ]
    if hub_cpu > 0:
        rows.append(Row("ingest", f"seat deltas per hub CPU-second, {changes} change(s) per delta", seat_deltas / hub_cpu,
                        "deltas/CPU-s", "", "hub process CPU (paho thread + writer + count polling)"))
    return rows


def _all_waiting(barrier, n: int) -> bool:
    return barrier.n_waiting >= n


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--edges", type=int, default=8)
    ap.add_argument("--seats", type=int, default=100)
    ap.add_argument("--deltas", type=int, default=1500, help="delta messages per edge")
    ap.add_argument("--changes", type=int, nargs="+", default=[1, 5], help="seat changes per delta message")
    ap.add_argument("--mode", choices=["drain", "live"], default="drain")
    ap.add_argument("--no-edge-mix", action="store_true",
                    help="skip the run at the edge's real mix (an Event and a one-seat Delta per change)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database per run)")
    ap.add_argument("--shared-broker", action="store_true",
                    help="use the broker at --host/--port instead of a private Mosquitto with hub-sized queues")
    ap.add_argument("-v", "--verbose", action="store_true", help="log the hub's ingest")
    args = ap.parse_args()
    if args.quick:
        args.edges, args.deltas, args.seats = 2, 60, 10
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(relativeCreated)7.0f %(name)s: %(message)s")
    from tests.support.services import postgres_database

    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        if not args.shared_broker:
            args.host, args.port = "127.0.0.1", stack.enter_context(hub_broker())
        runs = [(changes, False) for changes in args.changes] + ([] if args.no_edge_mix else [(1, True)])
        for changes, mix in runs:
            with contextlib.ExitStack() as db:
                url = args.pg or db.enter_context(postgres_database())
                rows += asyncio.run(run(args, url, changes, mix))
    report(rows, args.json)


if __name__ == "__main__":
    main()
