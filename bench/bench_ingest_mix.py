"""Ingest at the edge's real message mix, by number of stores: the hub's writer (parse, dedupe,
load, pure reducer, flush; one PostgreSQL transaction per batch) without the broker in front.

    python -m bench.bench_ingest_mix [--stores 10 100 500 --changes 12000 --seats 100] [--pg URL]

Per seat change the edge sends one ``Event`` (with its evidence, ~300 B) and one one-seat
``Delta`` (edge_agent/uplink.py: ``publish_event`` then ``publish_delta``), so a change is two
messages. The same number of changes is spread over 10, 100 and 500 stores (one edge each) and
fed in the order the broker would interleave them, in batches of ``ingest.batch_max``; what
changes with the number of stores is how many stores one batch touches. The figure is seat
changes committed per second, with the SQL statements per batch beside it (what the store count
must not drive up). Exactly-once is checked: every message stored once, every seat ends in the
last state sent. The broker and paho in front are measured by ``bench_ingest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select

from bench.common import Row, parser, report
from hub.db.migrate import upgrade_async
from hub.db.models import Ingested, SeatEvent, SeatStateRow
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from hub.settings import IngestSettings
from protocol import SEAT_STATES, Birth, Delta, Event, Evidence, SeatDef, SeatSnapshot, TopicSpace, encode

TOPICS = TopicSpace("bench/seat/v1")
EVIDENCE = Evidence(person_overlap=0.62, person_conf=0.81, item_count=2, item_classes=["backpack", "laptop"],
                    change_score=0.34, person_held=False)


def traffic(stores: int, seats: int, changes: int, seed: int = 7) -> tuple[list[RawMessage], list[RawMessage],
                                                                           dict[tuple[str, str], str]]:
    """Births, then the change messages (Event + Delta per change) interleaved over the stores,
    and the last state of every seat that changed."""
    rnd = random.Random(seed)
    now = time.time() - 3600
    births, per_store, last = [], [], {}
    for i in range(stores):
        store = f"store-{i:03d}"
        base = {"store_id": store, "edge_id": "edge-1", "boot_id": f"boot-{i}"}
        defs = [SeatDef(seat_id=f"s{k}", channel=k % 16, polygon=[(0, 0), (0.1, 0), (0.1, 0.1)])
                for k in range(seats)]
        b = Birth(**base, seq=1, ts=now, config_version=1, seats=defs,
                  states=[SeatSnapshot(d.seat_id, "empty", now) for d in defs])
        births.append(RawMessage(TOPICS.topic(store, "edge-1", "birth"), encode(b), now))
        state = {d.seat_id: "empty" for d in defs}
        msgs, seq = [], 1
        for n in range(changes // stores):
            sid = f"s{rnd.randrange(seats)}"
            to = rnd.choice([s for s in SEAT_STATES[:4] if s != state[sid]])
            t = now + 1 + n * 0.01
            seq += 1
            ev = Event(**base, seq=seq, ts=t, seat_id=sid, from_state=state[sid], to_state=to, at=t,
                       evidence=EVIDENCE)
            seq += 1
            d = Delta(**base, seq=seq, ts=t, changes=[SeatSnapshot(sid, to, t)])
            msgs += [RawMessage(TOPICS.topic(store, "edge-1", "event"), encode(ev), t),
                     RawMessage(TOPICS.topic(store, "edge-1", "delta"), encode(d), t)]
            state[sid] = to
            last[(store, sid)] = to
        per_store.append(msgs)
    # the broker delivers the edges' streams interleaved; each edge's own order is kept
    mixed = [m for group in zip(*per_store, strict=True) for m in group]
    return births, mixed, last


async def run_one(url: str, stores: int, seats: int, changes: int, batch: int) -> list[Row]:
    engine = make_engine(url)
    await upgrade_async(engine)
    statements = [0]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    sm = make_sessionmaker(engine)
    writer = IngestWriter(sm, TOPICS)
    births, mixed, last = traffic(stores, seats, changes)
    for i in range(0, len(births), batch):
        await writer.write(births[i:i + batch])
    statements[0] = 0
    batches = [mixed[i:i + batch] for i in range(0, len(mixed), batch)]
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for b in batches:
        await writer.write(b)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    async with sm() as s:
        stored = (await s.execute(select(func.count()).select_from(Ingested))).scalar_one()
        events = (await s.execute(select(func.count()).select_from(SeatEvent))).scalar_one()
        states = {(r.store_id, r.seat_id): r.state for r in (await s.execute(select(SeatStateRow))).scalars()}
    await engine.dispose()
    n_changes = len(mixed) // 2
    wrong = sum(1 for k, st in last.items() if states.get(k) != st)
    ok = stored == len(births) + len(mixed) and events == n_changes and wrong == 0
    note = (f"{stores} stores x 1 edge, {n_changes} changes = {len(mixed)} msgs (Event + one-seat Delta each), "
            f"batches of {batch}: {statements[0] / len(batches):.1f} SQL statements/batch; exactly-once "
            + ("kept" if ok else f"BROKEN: {stored} stored, {events} events, {wrong} seats wrong"))
    print(note, flush=True)
    return [
        Row("ingest", f"seat changes/s at the edge's message mix, {stores} stores (writer, PostgreSQL)",
            n_changes / elapsed, "changes/s", ">= 20,000", note),
        Row("ingest", f"seat changes per writer CPU-second, {stores} stores", n_changes / cpu, "changes/CPU-s", "",
            "hub process CPU only (PostgreSQL's own CPU not counted)"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--stores", type=int, nargs="+", default=[10, 100, 500])
    ap.add_argument("--changes", type=int, default=12_000, help="seat changes in all (two messages each)")
    ap.add_argument("--seats", type=int, default=100, help="seats per store")
    ap.add_argument("--batch", type=int, default=IngestSettings().batch_max, help="messages per transaction")
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database per store count)")
    args = ap.parse_args()
    if args.quick:
        args.stores, args.changes, args.seats = [2, 10], 200, 10
    from tests.support.services import postgres_database

    rows: list[Row] = []
    for stores in args.stores:
        with contextlib.ExitStack() as db:
            url = args.pg or db.enter_context(postgres_database())
            rows += asyncio.run(run_one(url, stores, args.seats, args.changes, args.batch))
    report(rows, args.json)


if __name__ == "__main__":
    main()
