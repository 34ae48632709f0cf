"""Wire size: bytes per changed seat in a delta and the size of a 150-seat birth, MessagePack
(what goes over MQTT) against plain JSON of the same message (encode_json).

    python -m bench.bench_wire

Seat times are rounded to milliseconds as the edge's uplink does (protocol.wire.quantise_ms).
Realistic content: store/edge ids like a real install ("oryudong", "edge1"), a uuid4 boot id,
seat ids "A-001", 4-point polygons with 4-decimal coordinates, capture-time floats. The edge's
uplink sends one Delta per changed seat (the outbox collapses a seat's queued deltas), so the
single-change message is what a changed seat costs today; the marginal figure is what each
further seat in one delta costs.
"""

from __future__ import annotations

import random
import time
import uuid

import msgspec

from bench.common import Row, parser, report
from protocol import Birth, ChannelDef, Delta, SeatDef, SeatSnapshot, StateRules, encode, encode_json
from protocol.wire import layout_hash, quantise_ms

STATES = ("empty", "occupied", "away", "abandoned")


def messages(n_seats: int = 150) -> tuple[Birth, list[SeatDef]]:
    rnd = random.Random(5)
    now = time.time()
    seats = []
    for i in range(n_seats):
        x, y = round(rnd.uniform(0, 0.8), 4), round(rnd.uniform(0, 0.8), 4)
        seats.append(SeatDef(seat_id=f"A-{i:03d}", channel=1 + i % 16, label=f"A{i:03d}",
                             polygon=[(x, y), (round(x + 0.1, 4), y), (round(x + 0.1, 4), round(y + 0.12, 4)),
                                      (x, round(y + 0.12, 4))]))
    base = dict(store_id="oryudong", edge_id="edge1", boot_id=uuid.uuid4().hex, seq=123456, ts=now)
    birth = Birth(**base, config_version=7, seats=seats,
                  states=[SeatSnapshot(s.seat_id, rnd.choice(STATES), quantise_ms(now - rnd.uniform(0, 7200)))
                          for s in seats], layout_hash=layout_hash(seats),
                  channels=[ChannelDef(c, f"cam{c}") for c in range(1, 17)], rules=StateRules())
    return birth, seats


def delta(n_changes: int) -> Delta:
    now = time.time()
    return Delta(store_id="oryudong", edge_id="edge1", boot_id=uuid.uuid4().hex, seq=123457, ts=now,
                 changes=[SeatSnapshot(f"A-{i:03d}", STATES[i % 4], quantise_ms(now - 2.5)) for i in range(n_changes)])


def guard_cost(n: int = 20_000) -> tuple[float, float]:
    """CPU and wall microseconds per message of the hub's value guard (protocol.limits.message_problem,
    run on every decoded message) over what an edge sends most: one event plus one single-seat delta."""
    from protocol import Event, Evidence
    from protocol.limits import message_problem

    now = time.time()
    ev = Event(store_id="oryudong", edge_id="edge1", boot_id=uuid.uuid4().hex, seq=123456, ts=now, seat_id="A-012",
               from_state="occupied", to_state="away", at=quantise_ms(now - 1.0),
               evidence=Evidence(person_overlap=0.41, person_conf=0.82, item_count=2, item_classes=["laptop", "book"],
                                 change_score=0.21, confidence=0.66))
    mix = [ev, delta(1)] * (n // 2)
    c0, w0 = time.process_time(), time.perf_counter()
    for m in mix:
        message_problem(m, now)
    return (time.process_time() - c0) * 1e6 / len(mix), (time.perf_counter() - w0) * 1e6 / len(mix)


def run() -> list[Row]:
    birth, _ = messages()
    guard_cpu, guard_wall = guard_cost()
    d1, d11 = delta(1), delta(11)
    one, one_json = len(encode(d1)), len(encode_json(d1))
    marginal = (len(encode(d11)) - one) / 10
    marginal_json = (len(encode_json(d11)) - one_json) / 10
    b, bj = len(encode(birth)), len(encode_json(birth))
    hashed = msgspec.structs.replace(birth, seats=[])  # what the edge sends while the hub knows the layout
    h, hj = len(encode(hashed)), len(encode_json(hashed))
    return [
        Row("wire", "delta message with 1 changed seat (as the uplink sends), MessagePack", one, "bytes", "<= 24",
            f"plain JSON {one_json} B"),
        Row("wire", "each further changed seat in one delta, MessagePack", marginal, "bytes", "<= 24",
            f"plain JSON {marginal_json:.1f} B"),
        Row("wire", "150-seat birth, layout by hash (every birth the hub knows the layout of), MessagePack",
            h / 1024, "KB", "<= 4", f"plain JSON {hj / 1024:.1f} KB"),
        Row("wire", "150-seat birth with the full layout (only when the hub asks), MessagePack", b / 1024, "KB", "",
            f"plain JSON {bj / 1024:.1f} KB"),
        Row("ingest", "value guard per message (protocol.limits.message_problem), event + delta mix, CPU", guard_cpu,
            "us", "", f"wall {guard_wall:.2f} us; 4.5 us before the fast walk (issue 17 note)"),
    ]


def main() -> None:
    args = parser(__doc__).parse_args()
    report(run(), args.json)


if __name__ == "__main__":
    main()
