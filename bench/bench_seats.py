"""Seat logic: seat-samples per second through assignment and the state machine
(SeatTracker.update): SeatEngine.observe_many with all channels of a tick, as the agent calls it
(edge_agent.agent.observe_tick), and SeatEngine.observe with one channel per call.

    python -m bench.bench_seats [--seconds 3] [--quick]

A store of 16 channels x 10 seats (polygons like a reading room's desks), 6 persons and 3
belongings per channel per sample, people moving a little between samples so seats change
state now and then. One seat-sample = one seat's evidence computed and fed to its state machine.

Two workloads:
- **agent defaults** (the first rows): ``SeatRules()`` as an edge runs it, the reference image
  comparison (registered desk patches) and the still-person hold on, on real frames (the
  study-table sample sequence, 640x360 as an NVR substream gives) with each channel's reference
  taken on its first frame, as an install does;
- **pure logic**: the reference and the hold off, synthetic black frames: assignment and the
  state machine alone (the ceiling of the image-free path).
"""

from __future__ import annotations

import random
import time

import cv2
import numpy as np

from bench.common import REPO, Row, parser, report
from edge_agent.seats.engine import SeatEngine
from edge_agent.settings import SeatsSection
from edge_agent.types import Detection, Frame, FrameDetections
from protocol import SeatDef, StateRules

CHANNELS, SEATS_PER_CHANNEL, PERSONS, ITEMS = 16, 10, 6, 3


def layout() -> list[SeatDef]:
    seats = []
    for ch in range(1, CHANNELS + 1):
        for i in range(SEATS_PER_CHANNEL):
            x, y = 0.05 + (i % 5) * 0.18, 0.2 + (i // 5) * 0.4
            # a slightly skewed quadrilateral, as drawn over a desk seen at an angle
            seats.append(SeatDef(seat_id=f"c{ch}s{i}", channel=ch,
                                 polygon=[(x, y), (x + 0.15, y + 0.02), (x + 0.16, y + 0.3), (x - 0.01, y + 0.28)]))
    return seats


def samples(rnd: random.Random, n: int) -> list[list[Detection]]:
    out = []
    for _ in range(n):
        dets = []
        for _p in range(PERSONS):
            x, y = rnd.uniform(0, 0.85), rnd.uniform(0.05, 0.6)
            dets.append(Detection("person", "person", rnd.uniform(0.4, 0.95), (x, y, x + 0.12, y + 0.35)))
        for _i in range(ITEMS):
            x, y = rnd.uniform(0, 0.9), rnd.uniform(0.2, 0.9)
            dets.append(Detection("item", "backpack", rnd.uniform(0.3, 0.9), (x, y, x + 0.05, y + 0.05)))
        out.append(dets)
    return out


FRAMES = REPO.parent / "shared" / "samples" / "study-table-4chairs"


def real_frames(size: tuple[int, int] = (640, 360), limit: int = 40) -> list[np.ndarray]:
    files = sorted(FRAMES.glob("frame_*.jpg"))[:limit]
    if not files:
        raise SystemExit(f"no sample frames in {FRAMES}")
    return [cv2.resize(cv2.imread(str(f)), size, interpolation=cv2.INTER_AREA) for f in files]


def run_defaults(seconds: float) -> list[Row]:
    """observe_many with the agent's defaults on real frames, references taken on frame 0."""
    rnd = random.Random(11)
    imgs = real_frames()
    engine = SeatEngine(layout(), StateRules(enter_s=6, exit_s=20), SeatsSection(), now=0.0)
    for ch in range(1, CHANNELS + 1):
        engine.capture_reference(ch, Frame(ch, imgs[0], 0.0), 0.0)
    pool = samples(rnd, 200)
    t, n, ticks = 0.0, 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds or ticks < 3:
        t += 3.0
        img = imgs[1 + ticks % (len(imgs) - 1)]
        engine.observe_many([(ch, Frame(ch, img, t), FrameDetections(ch, t, pool[(ticks + ch) % len(pool)]), t)
                             for ch in range(1, CHANNELS + 1)])
        ticks += 1
        n += CHANNELS * SEATS_PER_CHANNEL
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    how = (f"SeatRules() defaults (reference + still-person hold), {len(imgs)} real 640x360 frames, "
           f"16 ch x 10 seats; {ticks} ticks, {wall / ticks * 1000:.1f} ms per 16-channel tick")
    return [
        Row("seat logic", "seat-samples/s with the agent's defaults, observe_many per tick", n / wall, "samples/s",
            ">= 200,000", how),
        Row("seat logic", "seat-samples per CPU-second with the agent's defaults", n / max(cpu, 1e-9),
            "samples/CPU-s", ">= 200,000", "time.process_time"),
    ]


def run(seconds: float) -> list[Row]:
    rnd = random.Random(11)
    seats = layout()
    seat_rules = SeatsSection(use_reference=False, still_person_threshold=0.0)
    rules = StateRules(enter_s=6, exit_s=20)
    engine = SeatEngine(seats, rules, seat_rules, now=0.0)
    pool = samples(rnd, 200)
    img = np.zeros((36, 64, 3), np.uint8)

    # 1) the whole observe path (assignment + state machine)
    t, n_obs, n_seat, transitions = 0.0, 0, 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        t += 3.0
        for ch in range(1, CHANNELS + 1):
            dets = pool[(n_obs * 7 + ch) % len(pool)]
            out = engine.observe(ch, Frame(ch, img, t), FrameDetections(ch, t, dets), t)
            transitions += len(out)
            n_obs += 1
            n_seat += SEATS_PER_CHANNEL
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    # 2) one call per tick for all channels (SeatEngine.observe_many, where the engine has it)
    many_rate = many_cpu = None
    if hasattr(engine, "observe_many"):
        n_many = 0
        t1, c1 = time.perf_counter(), time.process_time()
        while time.perf_counter() - t1 < seconds / 2:
            t += 3.0
            engine.observe_many([(ch, Frame(ch, img, t), FrameDetections(ch, t, pool[(n_many + ch) % len(pool)]), t)
                                 for ch in range(1, CHANNELS + 1)])
            n_many += CHANNELS * SEATS_PER_CHANNEL
        many_rate = n_many / (time.perf_counter() - t1)
        many_cpu = n_many / max(time.process_time() - c1, 1e-9)
    rate = n_seat / total
    # CPU time as well: on a shared machine the wall clock also counts other processes' turns.
    cpu_rate = n_seat / max(cpu, 1e-9)
    return [
        Row("seat logic", "pure logic (reference and hold off): seat-samples/s, observe_many", many_rate,
            "samples/s", "", "assignment + state machine alone; 16 ch x 10 seats, 6 persons + 3 items per sample"),
        Row("seat logic", "pure logic: seat-samples per CPU-second, observe_many", many_cpu, "samples/CPU-s", "",
            "time.process_time: not counting other processes' turns on a shared machine"),
        Row("seat logic", "pure logic: seat-samples/s, one channel per call (observe)", rate, "samples/s", "",
            f"replay/evaluate path, not the agent's; same workload; {transitions} transitions"),
        Row("seat logic", "pure logic: seat-samples per CPU-second, observe", cpu_rate, "samples/CPU-s", "",
            "time.process_time"),
    ]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    secs = 0.2 if args.quick else args.seconds
    report(run_defaults(secs) + run(secs), args.json)


if __name__ == "__main__":
    main()
