"""Issue 19 point 8: after a restart a seat keeps its state but its timer starts again: the
minutes the box was off are not counted as "empty for ..." (nobody watched)."""

from __future__ import annotations

from edge_agent.agent import resumed_states
from edge_agent.seats.engine import SeatEngine
from edge_agent.seats.rules import SeatRules
from protocol.messages import SeatDef, SeatSnapshot, StateRules


def test_timers_restart_states_kept():
    stored = [SeatSnapshot("a1", "empty", 1000.0), SeatSnapshot("a2", "away", 1500.0)]
    seats = [SeatDef(seat_id=s, channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)]) for s in ("a1", "a2")]
    eng = SeatEngine(seats, StateRules(), SeatRules(), now=1773.0)
    eng.restore(resumed_states(stored, now=1773.0))
    snaps = {s.seat_id: s for s in eng.snapshots()}
    assert snaps["a1"].state == "empty" and snaps["a1"].since == 1773.0  # not "empty for 773 s"
    assert snaps["a2"].state == "away" and snaps["a2"].since == 1773.0  # the abandoned timer restarts too
