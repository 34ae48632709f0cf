"""`seat-edge evaluate`'s scoring (pure): seat states predicted per sample against labelled
segments -> per-state precision/recall, stay-length error, flicker, the longest run of an empty
seat read away, and totals over sequences. See ``evaluate.py`` for what a sequence is."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from protocol.messages import SEAT_STATES


class EvaluateError(ValueError):
    """The sequence cannot be evaluated; the message says where and why."""


@dataclass
class StateScore:
    precision: float | None
    recall: float | None
    predicted: int
    labelled: int


@dataclass
class Report:
    name: str
    samples: int  # (seat, sample) pairs scored
    right: int
    states: dict[str, StateScore]
    stays: int  # labelled occupied stays
    stay_error_s: float  # mean |predicted - labelled| stay length
    flicker: int  # predicted changes no labelled change explains
    per_seat: dict[str, tuple[int, int]] = field(default_factory=dict)  # seat -> (right, n)
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)  # (effective truth, predicted)
    stay_errors: list[float] = field(default_factory=list)
    # The longest run of samples in which a seat labelled empty read away/abandoned (the field's
    # complaint: empty desks reading "away" after the camera moved or the light changed).
    false_away_run: int = 0
    # Of the flicker, the changes made when the labels also change but to another state (the
    # seat left to "empty" where the label says "away": a wrong state, counted in the per-state
    # recall too), as against changes with no labelled change near them at all (oscillation).
    flicker_other_state: int = 0
    seat_flicker: dict[str, int] = field(default_factory=dict)  # seat -> flicker
    model_ms: float | None = None  # mean model time per frame (one run per distinct frame)
    model_runs: int = 0
    seats_ms: float | None = None  # mean seat-logic time per sample (all seats of the channel)

    @property
    def accuracy(self) -> float:
        return self.right / self.samples if self.samples else 0.0

    def text(self) -> str:
        lines = [f"sequence {self.name}: {self.samples} seat-samples, {self.accuracy:.1%} right"]
        lines.append(f"{'state':<10} {'precision':>9} {'recall':>7} {'predicted':>9} {'labelled':>8}")
        for st, sc in self.states.items():
            p = "-" if sc.precision is None else f"{sc.precision:.1%}"
            r = "-" if sc.recall is None else f"{sc.recall:.1%}"
            lines.append(f"{st:<10} {p:>9} {r:>7} {sc.predicted:>9} {sc.labelled:>8}")
        lines.append(f"stay length error: {self.stay_error_s:.1f} s mean over {self.stays} occupied stays")
        lines.append(f"flicker: {self.flicker} state changes not in the labels"
                     + (f" ({self.flicker_other_state} of them when the labels change, to another state)"
                        if self.flicker_other_state else ""))
        lines.append(f"empty seat read away: at most {self.false_away_run} samples in a row")
        if self.model_ms is not None:
            lines.append(f"cost per tick: model {self.model_ms:.1f} ms per frame ({self.model_runs} runs), "
                         f"seat logic {self.seats_ms or 0.0:.2f} ms per sample")
        for sid, (r, n) in sorted(self.per_seat.items()):
            fl = self.seat_flicker.get(sid, 0)
            lines.append(f"  seat {sid:<12} {r}/{n} right ({r / n:.0%})" + (f", flicker {fl}" if fl else ""))
        return "\n".join(lines)


def truth_at(segs: list[tuple[float, str]], t: float) -> str | None:
    keys = [s[0] for s in segs]
    i = bisect.bisect_right(keys, t + 1e-9) - 1
    return segs[i][1] if i >= 0 else None


def _intervals(series: list[tuple[float, str]], state: str, end: float) -> list[tuple[float, float]]:
    out, start = [], None
    for t, s in series:
        if s == state and start is None:
            start = t
        elif s != state and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, end))
    return out


def _pred_intervals(times: list[float], preds: list[str], sinces: list[float] | None, state: str,
                    end: float) -> list[tuple[float, float]]:
    """Predicted stays of ``state``; they start at the engine's ``since`` (the first sample of
    the run that led there: what staff read as "occupied for 12 min"), else at the sample."""
    out = []
    for a, b in _intervals(list(zip(times, preds, strict=True)), state, end):
        if sinces is not None:
            a = min(a, sinces[times.index(a)])
        out.append((a, b))
    return out


def score(name: str, times: list[float], predicted: dict[str, list[str]],
          labels: dict[str, list[tuple[float, str]]], interval_s: float, lag_s: float,
          since: dict[str, list[float]] | None = None) -> Report:
    conf: dict[tuple[str, str], int] = defaultdict(int)  # (effective truth, predicted)
    per_seat: dict[str, tuple[int, int]] = {}
    flicker = other_state = 0
    seat_flicker: dict[str, int] = {}
    stay_errors: list[float] = []
    false_away = 0
    end = (times[-1] + interval_s) if times else 0.0
    for sid, segs in labels.items():
        segs = sorted(segs)
        preds = predicted.get(sid)
        if preds is None:
            raise EvaluateError(f"labelled seat {sid!r} is not in the layout")
        right = n = run_len = 0
        for t, p in zip(times, preds, strict=True):
            truth = truth_at(segs, t)
            if truth is None or t < lag_s:  # warm-up: the logic has not had time to decide
                continue
            recent = {truth} | {s for ts, s in segs if t - lag_s <= ts <= t}
            recent |= {truth_at(segs, t - lag_s) or truth}
            eff = p if p in recent else truth
            conf[(eff, p)] += 1
            # an empty seat reading away / abandoned that no recent label explains
            run_len = run_len + 1 if eff == "empty" and p in ("away", "abandoned") else 0
            false_away = max(false_away, run_len)
            n += 1
            right += eff == p
        per_seat[sid] = (right, n)
        # Flicker: a predicted change is explained by a labelled change to the same state
        # that happened up to lag_s before it (or within one interval after it).
        changes = [(ts, s) for ts, s in segs]
        for i in range(1, len(times)):
            if preds[i] != preds[i - 1] and preds[i - 1] != "unknown":
                t = times[i]
                near = [s for ts, s in changes if t - lag_s - interval_s <= ts <= t + interval_s]
                if preds[i] not in near:
                    flicker += 1
                    seat_flicker[sid] = seat_flicker.get(sid, 0) + 1
                    other_state += bool(near)
        # Stay length: each labelled occupied stay against the predicted stay overlapping it most.
        truth_series = [(t, truth_at(segs, t) or "unknown") for t in times]
        pred_stays = _pred_intervals(times, preds, (since or {}).get(sid), "occupied", end)
        for a, b in _intervals(truth_series, "occupied", end):
            best, best_len = 0.0, 0.0
            for c, d in pred_stays:
                ov = min(b, d) - max(a, c)
                if ov > best:
                    best, best_len = ov, d - c
            stay_errors.append(abs(best_len - (b - a)))
    states = state_scores(conf)
    total = sum(conf.values())
    right = sum(v for (e, p), v in conf.items() if e == p)
    return Report(name, total, right, states, len(stay_errors),
                  float(np.mean(stay_errors)) if stay_errors else 0.0, flicker, per_seat, dict(conf), stay_errors,
                  false_away, other_state, seat_flicker)


def state_scores(conf: dict[tuple[str, str], int]) -> dict[str, StateScore]:
    states: dict[str, StateScore] = {}
    for st in SEAT_STATES:
        tp = conf.get((st, st), 0)
        npred = sum(v for (e, p), v in conf.items() if p == st)
        nlab = sum(v for (e, p), v in conf.items() if e == st)
        if npred or nlab:
            states[st] = StateScore(tp / npred if npred else None, tp / nlab if nlab else None, npred, nlab)
    return states


def combine(name: str, reports: Sequence[Report]) -> Report:
    """All sequences as one: seat-samples, per-state precision/recall, stays and flicker summed."""
    conf: dict[tuple[str, str], int] = defaultdict(int)
    for r in reports:
        for k, v in r.confusion.items():
            conf[k] += v
    errs = [e for r in reports for e in r.stay_errors]
    runs = [r.model_runs for r in reports]
    model_ms = (sum((r.model_ms or 0.0) * r.model_runs for r in reports) / sum(runs)) if sum(runs) else None
    seats = [r.seats_ms for r in reports if r.seats_ms is not None]
    return Report(name, sum(r.samples for r in reports), sum(r.right for r in reports), state_scores(conf),
                  len(errs), float(np.mean(errs)) if errs else 0.0, sum(r.flicker for r in reports), {},
                  dict(conf), errs, max((r.false_away_run for r in reports), default=0),
                  sum(r.flicker_other_state for r in reports), {}, model_ms, sum(runs),
                  float(np.mean(seats)) if seats else None)


