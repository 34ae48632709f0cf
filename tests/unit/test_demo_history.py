"""The demo's generated week of history: plausible transitions only (the ones the seat state
machine can produce), in time order, inside the day, and the same week on every run."""

from __future__ import annotations

import random

from edge_agent.seats.state_machine import ALLOWED
from hub.demo_history import generate_seat_day

DAY = 86400.0


def test_generated_days_are_valid_transitions_in_order():
    total = 0
    for seed in range(40):
        events = generate_seat_day(random.Random(seed), 1_000_000.0, 1_000_000.0 + DAY, busy=0.6)
        state, last = "empty", 1_000_000.0
        for at, frm, to in events:
            assert frm == state and to in ALLOWED[frm], events
            assert last <= at <= 1_000_000.0 + DAY
            state, last = to, at
        assert state == "empty"  # every day ends with the seats free
        total += len(events)
        kinds = [to for _, _, to in events]
        for i, to in enumerate(kinds):
            if to == "abandoned":
                assert kinds[i - 1] == "away" and events[i][0] - events[i - 1][0] == 600  # the 10-minute limit
    assert total > 40 * 4  # students do come


def test_same_seed_same_history():
    a = generate_seat_day(random.Random("demo/a01"), 0.0, DAY, 0.5)
    assert a == generate_seat_day(random.Random("demo/a01"), 0.0, DAY, 0.5) and a
