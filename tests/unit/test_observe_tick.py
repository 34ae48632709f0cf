"""The agent's seat step: one SeatEngine.observe_many per tick (edge_agent.agent.observe_tick),
with the same results as the per-channel observe loop it replaced, including a clock that went
back on one channel (that channel's timers restart, states kept, the others go on)."""

from __future__ import annotations

import logging
import random

import numpy as np

from edge_agent.agent import observe_tick
from edge_agent.seats.engine import SeatEngine
from edge_agent.seats.state_machine import OutOfOrderSample
from edge_agent.settings import SeatsSection
from edge_agent.types import Detection, Frame, FrameDetections
from protocol.messages import SeatDef, StateRules

RULES = StateRules(enter_s=4.0, exit_s=8.0)
SEAT_RULES = SeatsSection(use_reference=False, still_person_threshold=0)
IMG = np.zeros((8, 8, 3), np.uint8)


def seats():
    out = []
    for ch in (1, 2, 3):
        for i in range(4):
            x = 0.02 + i * 0.245
            out.append(SeatDef(seat_id=f"c{ch}s{i}", channel=ch,
                               polygon=[(x + 0.02, 0.3), (x + 0.22, 0.31), (x + 0.21, 0.8), (x, 0.79)]))
    return out


def old_loop(engine, batch):
    """The agent's tick before observe_many (reference behaviour)."""
    out = []
    for ch, frame, dets, t in batch:
        try:
            out += engine.observe(ch, frame, dets, t)
        except OutOfOrderSample:
            engine.clock_reset(ch, t)
            out += engine.observe(ch, frame, dets, t)
    return out


def batches(r: random.Random, n: int, clock_back_at: int):
    for k in range(n):
        t = k * 2.0
        batch = []
        for ch in (1, 2, 3):
            dets = []
            for _ in range(r.randint(0, 4)):
                x = r.uniform(0, 0.8)
                dets.append(Detection("person", "person", round(r.uniform(0.3, 0.9), 1), (x, 0.1, x + 0.15, 0.8)))
            if r.random() < 0.3:
                x = r.uniform(0, 0.9)
                dets.append(Detection("item", "bag", 0.6, (x, 0.5, x + 0.05, 0.55)))
            tt = t - 3600.0 if (ch == 2 and k >= clock_back_at) else t  # channel 2's clock steps back
            down = (k + ch) % 11 == 0
            batch.append((ch, None if down else Frame(ch, IMG, tt), None if down else FrameDetections(ch, tt, dets), tt))
        yield batch


def test_observe_tick_equals_the_per_channel_loop_with_a_clock_step_back(caplog):
    a, b = SeatEngine(seats(), RULES, SEAT_RULES), SeatEngine(seats(), RULES, SEAT_RULES)
    steps = 0
    with caplog.at_level(logging.WARNING, logger="seat_edge.agent"):
        for batch in batches(random.Random(7), 80, clock_back_at=40):
            got, want = observe_tick(a, batch), old_loop(b, batch)
            # The same transitions in the same order (channel by channel), the same states.
            assert [(x.seat_id, x.from_state, x.to_state, x.at) for x in got] == \
                   [(x.seat_id, x.from_state, x.to_state, x.at) for x in want]
            assert a.snapshots() == b.snapshots()
            steps += len(got)
    assert steps > 20  # the workload moves seats
    back = [r for r in caplog.records if "clock went back on channel 2" in r.getMessage()]
    assert len(back) == 1, [r.getMessage() for r in caplog.records]


def test_observe_many_refuses_a_batch_before_any_seat_moves():
    eng = SeatEngine(seats(), RULES, SEAT_RULES)
    person = [Detection("person", "person", 0.9, (0.03, 0.1, 0.25, 0.8))]
    for t in (0.0, 2.0, 4.0, 6.0):
        eng.observe_many([(ch, Frame(ch, IMG, t), FrameDetections(ch, t, person), t) for ch in (1, 2, 3)])
    before = eng.snapshots()
    pending = {s.seat_id: eng.tracker(s.seat_id).pending for s in seats()}
    bad = [(1, Frame(1, IMG, 8.0), FrameDetections(1, 8.0, []), 8.0),
           (2, Frame(2, IMG, -100.0), FrameDetections(2, -100.0, []), -100.0),  # clock back on 2
           (3, None, None, 8.0)]
    try:
        eng.observe_many(bad)
    except OutOfOrderSample as exc:
        assert "channel 2" in str(exc)
    else:
        raise AssertionError("no OutOfOrderSample")
    assert eng.snapshots() == before
    assert {s.seat_id: eng.tracker(s.seat_id).pending for s in seats()} == pending
