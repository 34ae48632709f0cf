"""What the hourly rollups cost the writer when one seat's hour fills up (a flood on one seat, issue
20 item 5): the hub's writer on PostgreSQL, one store, one seat, Event messages in batches.

    python -m bench.bench_rollup_hour [--events 20000 --batch 500] [--pg URL]

In order, every tenth event held back: the time per batch at the start and at the end of the hour
(the rollups' append path must not grow with the hour). Then the held-back events as late batches
(the patch path: the span between the seat's resets around them, not the whole hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, parser, report
from hub.db.migrate import upgrade_async
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import RawMessage
from hub.ingest.writer import IngestWriter
from protocol import Birth, Event, SeatDef, SeatSnapshot, TopicSpace, encode

TOPICS = TopicSpace("bench/seat/v1")


def _event(seq: int, at: float) -> RawMessage:
    a, b = ("empty", "occupied") if seq % 2 == 0 else ("occupied", "empty")
    m = Event(store_id="flood", edge_id="e1", boot_id="b", seq=seq, ts=at, seat_id="s0", from_state=a, to_state=b,
              at=at)
    return RawMessage(TOPICS.topic("flood", "e1", "event"), encode(m), at)


async def run(url: str, n: int, batch: int) -> list[Row]:
    engine = make_engine(url)
    await upgrade_async(engine)
    writer = IngestWriter(make_sessionmaker(engine), TOPICS)
    start = (time.time() // 3600 - 1) * 3600 + 1  # the last full hour: every event fits in it
    step = 3000.0 / n
    birth = Birth(store_id="flood", edge_id="e1", boot_id="b", seq=1, ts=start, config_version=1,
                  seats=[SeatDef(seat_id="s0", channel=0, polygon=[(0, 0), (1, 0), (1, 1)])],
                  states=[SeatSnapshot("s0", "empty", start)])
    await writer.write([RawMessage(TOPICS.topic("flood", "e1", "birth"), encode(birth), start)])
    held: list[int] = []
    times: list[float] = []
    seq = 2
    cpu0 = time.process_time()
    while seq < n + 2:
        msgs = []
        for s in range(seq, min(seq + batch, n + 2)):
            if s % 10 == 0:
                held.append(s)
            else:
                msgs.append(_event(s, start + s * step))
        seq += batch
        t = time.perf_counter()
        await writer.write(msgs)
        times.append(time.perf_counter() - t)
    cpu_in_order = time.process_time() - cpu0
    late: list[float] = []
    for i in range(0, len(held), batch):
        t = time.perf_counter()
        await writer.write([_event(s, start + s * step) for s in held[i:i + batch]])
        late.append(time.perf_counter() - t)
    await engine.dispose()
    k = max(1, len(times) // 5)
    first, last = statistics.median(times[:k]), statistics.median(times[-k:])
    note = f"one seat, {n:,} events in one hour, batches of {batch} ({batch * 9 // 10} in order each)"
    return [
        Row("rollups", "writer, in-order batch at the start of a seat's hour (median)", first * 1000, "ms", "", note),
        Row("rollups", "writer, in-order batch at the end of that hour (median)", last * 1000, "ms", "",
            f"{note}; the append path: flat if close to the row above; in-order CPU {cpu_in_order:.1f} s"),
        Row("rollups", "writer, late batch into that hour (median)", statistics.median(late) * 1000, "ms", "",
            f"{len(held):,} held-back events in {len(late)} batches: the patch path (span between resets)"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--pg", help="postgresql+asyncpg:// URL (default: a throwaway database)")
    args = ap.parse_args()
    if args.quick:
        args.events, args.batch = 1000, 100
    from tests.support.services import postgres_database

    with contextlib.ExitStack() as db:
        url = args.pg or db.enter_context(postgres_database())
        rows = asyncio.run(run(url, args.events, args.batch))
    report(rows, args.json)


if __name__ == "__main__":
    main()
