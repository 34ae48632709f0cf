"""The per-seat state machine (pure: no clock, no I/O; time is the frames' capture time).

Each sample is ``(t, evidence)``. ``evidence is None`` means *no observation* (channel down,
frame stale) and moves the seat to ``unknown`` at once: not seeing a seat is not seeing it empty.

A sample is read as one of three conditions:

* ``P`` person: ``evidence.person_overlap >= person_overlap_min``
* ``I`` items, no person: ``item_count > 0`` or (``use_reference`` and ``change_score >=
  change_threshold``)
* ``E`` nothing

A *run* is a stretch of consecutive samples that all point to the same target state; its
duration is ``t(last sample) - t(first sample)``. A transition happens on the first sample
where a run's duration reaches its hysteresis in seconds *and* the run has at least
``enter_samples`` (``exit_samples`` when leaving ``occupied``) samples; with the seconds set to
0 the hysteresis is counted in samples only. One sample that breaks a run restarts it, so
alternating evidence never flips a seat (each run lasts 0 s), and a person walking past for
less than ``enter_s`` changes nothing.

Transitions (``enter_s`` / ``exit_s`` / ``abandoned_after_s`` from ``StateRules``):

=============  ===========================  ==========================================
from           run                          to
=============  ===========================  ==========================================
empty          P for >= enter_s             occupied
empty          I for >= enter_s             away (belongings left, nobody seen)
occupied       P absent for >= exit_s       away if belongings show on the sample that
                                            confirms it, or on two samples within the last
                                            enter_s; else empty
away           P for >= enter_s             occupied
away           E for >= enter_s             empty
away           a sample with I and          abandoned
               t - since >= abandoned_after_s
abandoned      P for >= enter_s             occupied
abandoned      E for >= enter_s             empty
unknown        P / I / E for >= enter_s     occupied / away / empty, but see "resume"
any            evidence None                unknown (immediately)
=============  ===========================  ==========================================

Timestamps (decisions):

* ``Transition.at`` is the capture time of the sample that confirmed the transition.
* ``since`` of the new state is the capture time of the *first sample of the run* that led to
  it: the moment the person was first seen sitting, or first seen gone. Staff read "empty for
  12 min" from it. For ``unknown`` it is the first sample without observation. For
  ``abandoned`` it is ``at`` (the first sample seen past the limit).
* ``abandoned_after_s`` is measured from ``since`` of ``away``, i.e. from the moment the
  person was first seen gone, not from when the exit hysteresis confirmed it: the store's
  limit is "belongings with nobody there for 10 min". Abandoned fires only on a sample that
  still shows items and no person, so its evidence always explains it.
* Resume after ``unknown``: when the evidenced state equals the last known state before the
  outage, the seat resumes it with its *old* ``since`` (a camera glitch does not reset the
  stay length or the abandoned timer). ``I`` after an outage that followed ``abandoned``
  resumes ``abandoned``. Otherwise the new state's ``since`` is the run's first sample.
* After any transition, runs start afresh, so (except for the abandoned timer and transitions
  into or out of ``unknown``) two transitions of a seat are at least ``min(enter_s, exit_s)``
  apart.
* Samples must not go back in time: ``update`` raises ``OutOfOrderSample`` (equal times are
  allowed). The caller owns the capture clock.

``SeatTracker.restore(state, since)`` puts a seat back into a stored state after a restart,
so counts continue from storage rather than from ``empty``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge_agent.seats.assign import OVERLAP_TOL
from edge_agent.seats.rules import SeatRules
from edge_agent.types import Transition
from protocol.messages import SEAT_STATES, Evidence, SeatSnapshot, SeatState, StateRules

Condition = Literal["P", "I", "E"]

# For tests and for checks of stored data: which transitions the machine can produce.
ALLOWED: dict[str, frozenset[str]] = {
    "empty": frozenset({"occupied", "away", "unknown"}),
    "occupied": frozenset({"away", "empty", "unknown"}),
    "away": frozenset({"occupied", "empty", "abandoned", "unknown"}),
    "abandoned": frozenset({"occupied", "empty", "unknown"}),
    "unknown": frozenset({"empty", "occupied", "away", "abandoned"}),
}

NO_OBSERVATION = Evidence()  # the evidence attached to a transition into unknown


# state -> condition -> (target, uses exit_s): the table ``SeatTracker.update`` follows.
# From occupied, away/empty is decided when the run completes.
_TARGETS: dict[str, dict[str, tuple[SeatState | None, bool]]] = {
    "occupied": {"P": (None, False), "I": ("empty", True), "E": ("empty", True)},
    "empty": {"P": ("occupied", False), "I": ("away", False), "E": (None, False)},
    "away": {"P": ("occupied", False), "I": (None, False), "E": ("empty", False)},
    "abandoned": {"P": ("occupied", False), "I": (None, False), "E": ("empty", False)},
    "unknown": {"P": ("occupied", False), "I": ("away", False), "E": ("empty", False)},
}


class OutOfOrderSample(ValueError):
    """A sample older than the previous one for the same seat."""


@dataclass(slots=True)
class _Run:
    target: SeatState
    start: float
    samples: int = 1


class SeatTracker:
    """One seat's state. Feed it samples in capture-time order with ``update``."""

    def __init__(
        self,
        seat_id: str,
        rules: StateRules,
        seat_rules: SeatRules,
        state: SeatState = "unknown",
        since: float = 0.0,
    ) -> None:
        if state not in SEAT_STATES:
            raise ValueError(f"seat {seat_id!r}: unknown state {state!r}")
        self.seat_id = seat_id
        self.rules = rules
        self.seat_rules = seat_rules
        self._state: SeatState = state
        self._since = float(since)
        self._run: _Run | None = None
        self._last_t: float | None = None
        self._last_items_t: float | None = None
        self._prev_items_t: float | None = None  # the item sample before the last one
        # The state was carried over a restart: ``since`` is a lower bound (see SeatSnapshot).
        self._resumed = False
        # Last known (non-unknown) state, its since and resumed flag, for resuming after an outage.
        self._known: tuple[SeatState, float, bool] | None = None if state == "unknown" else (state, self._since, False)

    @property
    def state(self) -> SeatState:
        return self._state

    @property
    def since(self) -> float:
        return self._since

    @property
    def pending(self) -> tuple[SeatState, float] | None:
        """The state a run in progress leads to and when that run started (for UIs and tests)."""
        return None if self._run is None else (self._run.target, self._run.start)

    def snapshot(self) -> SeatSnapshot:
        return SeatSnapshot(seat_id=self.seat_id, state=self._state, since=self._since, resumed=self._resumed)

    @property
    def resumed(self) -> bool:
        return self._resumed

    def restore(self, state: SeatState, since: float, resumed: bool = False) -> None:
        """Continue from a stored state (after a restart). Pending runs are dropped. ``resumed``:
        ``since`` is when watching started again, not when the state began."""
        if state not in SEAT_STATES:
            raise ValueError(f"seat {self.seat_id!r}: cannot restore unknown state {state!r}")
        self._state = state
        self._since = float(since)
        self._run = None
        self._last_t = None
        self._last_items_t = self._prev_items_t = None
        self._resumed = resumed
        self._known = None if state == "unknown" else (state, self._since, resumed)

    # -- the machine -------------------------------------------------------------------------

    def update(self, t: float, evidence: Evidence | None) -> Transition | None:
        # The hot path of the edge (every seat, every sample): reading the evidence (the module
        # docstring's P / I / E), the _TARGETS lookup and the sample count are written out here.
        last_t = self._last_t
        if last_t is not None and t < last_t:
            raise OutOfOrderSample(
                f"seat {self.seat_id!r}: sample at {t} is older than the previous one at {last_t}"
            )
        self._last_t = t

        if evidence is None:
            self._run = None
            self._last_items_t = self._prev_items_t = None
            if self._state == "unknown":
                return None
            return self._go("unknown", t, since=t, evidence=NO_OBSERVATION)

        sr = self.seat_rules
        if evidence.item_count > 0:
            items = True
        elif sr.use_reference:
            cs = evidence.change_score
            items = cs is not None and cs >= sr.change_threshold
        else:
            items = False
        if items:
            if self._last_items_t != t:
                self._prev_items_t = self._last_items_t
            self._last_items_t = t
        state = self._state
        if evidence.person_overlap >= sr.person_overlap_min - OVERLAP_TOL:
            cond: Condition = "P"
        elif items:
            cond = "I"
            if state == "away" and t - self._since >= self.rules.abandoned_after_s:
                return self._go("abandoned", t, since=t, evidence=evidence)
        else:
            cond = "E"

        target, leaving = _TARGETS[state][cond]
        if target is None:
            self._run = None
            return None
        rules = self.rules
        run = self._run
        if run is None or run.target != target:
            run = self._run = _Run(target, t)
        else:
            run.samples += 1
        if t - run.start < (rules.exit_s if leaving else rules.enter_s):
            return None
        if run.samples < (rules.exit_samples if state == "occupied" else rules.enter_samples):
            return None

        if state == "occupied":
            # Which of away/empty: belongings on the desk now that the person is gone. One sample
            # is not enough: the student getting up and leaning over the desk, missed by the
            # detector, changes the desk for one sample (study-table-4chairs 0050, 0072), and
            # one sample never flips a seat. So: belongings on this confirming sample (what the
            # desk shows after the leave), or on two samples within the last enter_s (an item
            # detector that sees a bag on every other sample).
            last, prev = self._last_items_t, self._prev_items_t
            recent = last is not None and (last == t or (prev is not None and t - prev <= self.rules.enter_s))
            target = "away" if recent else "empty"
        since = run.start
        resumed = False
        if state == "unknown" and self._known is not None:
            known_state, known_since, known_resumed = self._known
            if known_state == target or (known_state == "abandoned" and target == "away"):
                # back to the state it had: its old since, still a lower bound if that one was
                target, since, resumed = known_state, known_since, known_resumed
        return self._go(target, t, since=since, evidence=evidence, resumed=resumed)

    def _go(self, to: SeatState, t: float, since: float, evidence: Evidence, resumed: bool = False) -> Transition:
        tr = Transition(seat_id=self.seat_id, from_state=self._state, to_state=to, at=t, evidence=evidence)
        self._state = to
        self._since = since
        self._run = None
        self._resumed = resumed  # a real transition: its since is known (issue 19 point 8)
        if to != "unknown":
            self._known = (to, since, resumed)
        return tr
