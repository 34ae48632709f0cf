"""Ingest throughput: simulated edges publish deltas over the real broker into PostgreSQL
through the real hub consumer (paho thread -> asyncio queue -> batched writer).

    .venv/bin/python bench/bench_ingest.py [--edges 8 --seats 100 --deltas 500 --pg URL]

Without --pg a throwaway database is created on 127.0.0.1:5432 (trust auth) and dropped after.
Prints seat deltas per second (from the first publish until the last delta is committed).
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
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from hub.db.migrate import upgrade_async
from hub.db.models import Ingested
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest import IngestWriter
from hub.live import LiveHub
from hub.metrics import HubMetrics
from hub.mqtt_consumer import MqttIngest
from hub.settings import DatabaseSettings, HubSettings, MqttSettings
from protocol import SEAT_STATES, Birth, Delta, SeatDef, SeatSnapshot, TopicSpace, encode


def edge_publisher(
    host: str,
    port: int,
    topics: TopicSpace,
    store: str,
    seats: int,
    deltas: int,
    changes_per_delta: int,
    start,
) -> None:
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
        encode(
            Birth(
                **base,
                seq=1,
                ts=now,
                config_version=1,
                seats=defs,
                states=[SeatSnapshot(d.seat_id, "empty", now) for d in defs],
            )
        ),
        qos=1,
    ).wait_for_publish(10)
    start.wait()
    rnd = random.Random(store)
    last = None
    for i in range(deltas):
        t = time.time()
        ch = [
            SeatSnapshot(f"s{rnd.randrange(seats)}", rnd.choice(SEAT_STATES[:4]), t)
            for _ in range(changes_per_delta)
        ]
        last = c.publish(
            topics.topic(store, "edge", "delta"), encode(Delta(**base, seq=i + 2, ts=t, changes=ch)), qos=1
        )
    if last is not None:
        last.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


async def run(args: argparse.Namespace, url: str) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:6]}/seat/v1"
    settings = HubSettings(
        database=DatabaseSettings(url=url),
        mqtt=MqttSettings(host=args.host, port=args.port, topic_prefix=prefix),
    )
    engine = make_engine(url)
    await upgrade_async(engine)
    sm = make_sessionmaker(engine)
    metrics = HubMetrics()
    ingest = MqttIngest(settings, IngestWriter(sm, TopicSpace(prefix)), LiveHub(), metrics)
    await ingest.start()
    if not await ingest.wait_ready(10):
        raise SystemExit(f"hub could not subscribe on {args.host}:{args.port}")
    # Edges are separate processes, as in the field (threads here would fight the hub for the GIL).
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.edges + 1)
    threads = [
        ctx.Process(
            target=edge_publisher,
            args=(
                args.host,
                args.port,
                TopicSpace(prefix),
                f"store-{i}",
                args.seats,
                args.deltas,
                args.changes,
                barrier,
            ),
        )
        for i in range(args.edges)
    ]
    for t in threads:
        t.start()
    await asyncio.to_thread(barrier.wait)
    t0 = time.perf_counter()
    expected = args.edges * (args.deltas + 1)
    last_n, last_change = -1, time.perf_counter()
    while True:
        async with sm() as s:
            n = (await s.execute(select(func.count()).select_from(Ingested))).scalar_one()
        now = time.perf_counter()
        if n != last_n:
            last_n, last_change = n, now
        if n >= expected or now - last_change > 5:
            break  # all in, or nothing more arrives (the broker dropped some: reported below)
        await asyncio.sleep(0.05)
    elapsed = last_change - t0
    if n < expected:
        print(f"WARNING: only {n}/{expected} messages arrived; the broker dropped the rest "
              f"(Mosquitto max_queued_messages); gaps seen: {metrics.gaps._value.get():.0f}")
    for t in threads:
        t.join()
    await ingest.stop()
    await engine.dispose()
    msgs = n - args.edges  # delta messages actually ingested (births excluded)
    seat_deltas = msgs * args.changes
    hist = metrics.batch_size.collect()[0].samples
    batches = next(s.value for s in hist if s.name.endswith("_count"))
    print(
        f"edges={args.edges} seats/edge={args.seats} delta messages={msgs} seat changes/message={args.changes}"
    )
    print(
        f"ingested {msgs} delta messages ({seat_deltas} seat deltas) in {elapsed:.2f} s "
        f"in {batches:.0f} batches (mean {expected / max(batches, 1):.0f} msgs/batch)"
    )
    print(
        f"RESULT: {msgs / elapsed:,.0f} delta messages/s, {seat_deltas / elapsed:,.0f} seat deltas/s into "
        f"{engine.dialect.name}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=8)
    ap.add_argument("--seats", type=int, default=100)
    ap.add_argument("--deltas", type=int, default=500, help="delta messages per edge")
    ap.add_argument("--changes", type=int, default=1, help="seat changes per delta message")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database)")
    ap.add_argument("--own-broker", action="store_true",
                    help="start a Mosquitto with hub-sized queues instead of using --host/--port")
    ap.add_argument("-v", "--verbose", action="store_true", help="log the hub's ingest")
    args = ap.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(relativeCreated)7.0f %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        if args.own_broker:
            args.host, args.port = "127.0.0.1", stack.enter_context(hub_broker())
        url = args.pg or stack.enter_context(__import__("tests.support.services").support.services.postgres_database())
        asyncio.run(run(args, url))


@contextlib.contextmanager
def hub_broker():
    """A Mosquitto configured as a hub's broker should be: Mosquitto's default of 1000 queued
    messages per client drops QoS 1 messages to a hub that falls behind for a moment."""
    import subprocess
    import tempfile

    from tests.support.services import free_port, wait_port

    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 1000000\nmax_inflight_messages 1000\n")
    proc = subprocess.Popen(["mosquitto", "-c", f.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port("127.0.0.1", port, 10):
            raise SystemExit("mosquitto did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
