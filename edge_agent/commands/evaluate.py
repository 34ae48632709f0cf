"""`seat-edge evaluate`: how well the seat logic reads a labelled sequence.

A *sequence* is a JSON file (see ``tests/data/sequences/``): the seat layout of one channel
(``seats``, with optional ``desk`` zones), state rules, the frames in order and the true state
of each seat over time. Frames are image files (relative to the sequence file, or
``library:<name>`` for the shared library CCTV samples), optionally edited by ``ops`` that
paste a real crop of one frame onto another or move a region (a chair pushed back), so that
sequences can show arrive / leave / things left / taken away from a handful of real photos.
Every step is one frame held for ``repeat`` samples, ``interval_s`` of capture time apart.

Labels: per seat a list of ``[t, state]`` (the state from capture time t on), or a CSV
``t,seat_id,state`` per sample (``--labels``, the format of ``seat-edge replay``).

The report (``Report``) gives, per state, precision and recall over all (seat, sample) pairs,
the stay-length error (occupied stays: predicted vs labelled length, matched by overlap; a
predicted stay starts at the engine's ``since``, as staff read it),
and the flicker count (predicted state changes that no labelled change explains; per seat, and
how many of them came with a labelled change but went to another state). The seat
logic decides only after its hysteresis, so a prediction counts as right when it equals the
labelled state at any time within the last ``lag_s`` (default: the longest hysteresis plus
one sample interval); the first ``lag_s`` of a sequence is warm-up and not scored.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

# The metrics live in evaluate_score.py; its names are this module's API too (one error type).
from edge_agent.commands.evaluate_score import (  # noqa: F401
    EvaluateError,
    Report,
    StateScore,
    combine,
    score,
    state_scores,
    truth_at,
)
from edge_agent.settings import SeatsSection
from protocol.messages import SEAT_STATES, SeatDef, StateRules

# ``library:<name>`` images: the shared samples next to the checkout, or $SEAT_EDGE_SAMPLES.
SAMPLES_DIR = Path(os.environ.get("SEAT_EDGE_SAMPLES")
                   or Path(__file__).resolve().parents[3] / "shared" / "samples" / "library-cctv")


class Paste(msgspec.Struct, tag_field="op", tag="paste", forbid_unknown_fields=True):
    """Copy ``box`` (normalised x1, y1, x2, y2) of ``src`` (default: the step's own image) so its
    top-left corner lands at ``to``, scaled by ``scale``."""

    box: list[float]
    to: list[float]
    src: str | None = None
    scale: float = 1.0


class Shift(msgspec.Struct, tag_field="op", tag="shift", forbid_unknown_fields=True):
    """Move the region ``box`` by (dx, dy) (normalised): a chair pushed back or turned."""

    box: list[float]
    dx: float
    dy: float


class Warp(msgspec.Struct, tag_field="op", tag="warp", forbid_unknown_fields=True):
    """The whole picture moved and re-exposed, as a swaying or bumped camera and auto exposure
    do: shifted by (dx, dy) (fractions of the frame *width*), turned by ``angle`` degrees about
    the centre, grey levels times ``gain`` plus ``offset``. Applied after the other edits."""

    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0
    gain: float = 1.0
    offset: float = 0.0


Op = Paste | Shift | Warp


class Step(msgspec.Struct, forbid_unknown_fields=True):
    image: str
    repeat: int = 1
    ops: list[Op] = []
    note: str = ""


class ReferenceCommand(msgspec.Struct, forbid_unknown_fields=True):
    """``seat-edge reference`` at the start: the empty reference of ``seats`` (all: None) is
    taken from ``step``'s frame (a step index; it need not be played)."""

    step: int = 0
    seats: list[str] | None = None


class SequenceSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    seats: list[SeatDef]
    steps: list[Step]
    labels: dict[str, list[tuple[float, str]]] = {}
    about: str = ""
    channel: int = 1
    interval_s: float = 2.0
    rules: StateRules = StateRules()
    seat_rules: dict = {}  # overrides of [seat_rules] (SeatsSection field names)
    reference: ReferenceCommand | None = None


@dataclass
class LabelledSequence:
    """A loaded sequence: its spec, the folder its image paths are relative to, and where
    ``library:`` images live."""

    spec: SequenceSpec
    base: Path
    samples_dir: Path

    @property
    def seat_rules(self) -> SeatsSection:
        try:
            return msgspec.convert(self.spec.seat_rules, SeatsSection)
        except msgspec.ValidationError as exc:
            raise EvaluateError(f"{self.spec.name}: seat_rules: {exc}") from None

    def image_path(self, name: str) -> Path:
        if name.startswith("library:"):
            return self.samples_dir / name.split(":", 1)[1]
        if name.startswith("samples:"):  # any folder of the shared samples: samples:<folder>/<file>
            return self.samples_dir.parent / name.split(":", 1)[1]
        p = Path(name)
        return p if p.is_absolute() else self.base / p

    def load(self, name: str, cache: dict) -> np.ndarray:
        import cv2

        if name not in cache:
            p = self.image_path(name)
            im = cv2.imread(str(p))
            if im is None:
                raise EvaluateError(f"{self.spec.name}: cannot read image {p}")
            cache[name] = im
        return cache[name]

    def render(self, step: Step, cache: dict) -> np.ndarray:
        return render_step(self.load(step.image, cache), step.ops, lambda n: self.load(n, cache))

    def times(self) -> list[tuple[int, float]]:
        """(step index, capture time) of every sample."""
        out, t = [], 0.0
        for i, st in enumerate(self.spec.steps):
            for _ in range(st.repeat):
                out.append((i, t))
                t += self.spec.interval_s
        return out


def _px(box: Sequence[float], w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return int(round(x1 * w)), int(round(y1 * h)), int(round(x2 * w)), int(round(y2 * h))


def render_step(image: np.ndarray, ops: Sequence[Op], load: Callable[[str], np.ndarray]) -> np.ndarray:
    """Apply the edits of a step to a copy of its image (pure, for tests too)."""
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    warps = [op for op in ops if isinstance(op, Warp)]
    for op in ops:
        if isinstance(op, Warp):
            continue
        if isinstance(op, Paste):
            src = image if op.src is None else load(op.src)
            sh, sw = src.shape[:2]
            x1, y1, x2, y2 = _px(op.box, sw, sh)
            crop = src[y1:y2, x1:x2]
            # Sizes are normalised to the source frame and land normalised in the target frame.
            tw = max(1, int(round((x2 - x1) / sw * w * op.scale)))
            th = max(1, int(round((y2 - y1) / sh * h * op.scale)))
            if crop.shape[:2] != (th, tw):  # same size: copy the pixels exactly
                crop = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA)
            tx, ty = int(round(op.to[0] * w)), int(round(op.to[1] * h))
            tw, th = min(tw, w - tx), min(th, h - ty)
            out[ty : ty + th, tx : tx + tw] = crop[:th, :tw]
        else:
            x1, y1, x2, y2 = _px(op.box, w, h)
            crop = out[y1:y2, x1:x2].copy()
            tx, ty = x1 + int(round(op.dx * w)), y1 + int(round(op.dy * h))
            cx1, cy1 = max(tx, 0), max(ty, 0)
            cx2, cy2 = min(tx + crop.shape[1], w), min(ty + crop.shape[0], h)
            out[cy1:cy2, cx1:cx2] = crop[cy1 - ty : cy2 - ty, cx1 - tx : cx2 - tx]
    for op in warps:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), op.angle, 1.0)
        m[0, 2] += op.dx * w
        m[1, 2] += op.dy * w
        out = cv2.warpAffine(out, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if op.gain != 1.0 or op.offset != 0.0:
            out = np.clip(out.astype(np.float32) * op.gain + op.offset, 0, 255).astype(np.uint8)
    return out


def load_sequence(path: Path, samples_dir: Path | None = None) -> LabelledSequence:
    try:
        spec = msgspec.json.decode(path.read_bytes(), type=SequenceSpec)
    except FileNotFoundError:
        raise EvaluateError(f"{path}: file not found") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise EvaluateError(f"{path}: {exc}") from None
    from protocol.layout import layout_problems

    if problems := layout_problems(spec.seats):
        raise EvaluateError(f"{path}: {'; '.join(problems)}")
    if bad := spec.rules.problems():
        raise EvaluateError(f"{path}: rules: {'; '.join(bad)}")
    if not spec.steps or spec.interval_s <= 0:
        raise EvaluateError(f"{path}: needs at least one step and interval_s > 0")
    for sid, segs in spec.labels.items():
        for t, state in segs:
            if state not in SEAT_STATES:
                raise EvaluateError(f"{path}: label {sid} at {t}: unknown state {state!r}")
    return LabelledSequence(spec, path.parent, samples_dir or SAMPLES_DIR)


# ------------------------------------------------------------------------------------- run
def read_label_csv(path: Path) -> dict[str, list[tuple[float, str]]]:
    """Per-sample CSV labels as per-seat segments."""
    from edge_agent.commands.replay import ReplayError, read_labels

    try:
        per_t = read_labels(path)
    except ReplayError as exc:
        raise EvaluateError(str(exc)) from None
    segs: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for t in sorted(per_t):
        for sid, st in per_t[t].items():
            if not segs[sid] or segs[sid][-1][1] != st:
                segs[sid].append((t, st))
    return dict(segs)


def run_sequence(seq: LabelledSequence, detect: Callable[[list], list], *, labels: dict | None = None,
                 lag_s: float | None = None, progress: Callable[[str], None] | None = None,
                 prepare: Callable[[int, list, int, int], str] | None = None) -> Report:
    """Play the sequence through ``detect`` (frames -> FrameDetections, e.g. ``Detector.detect``)
    and the seat engine; score the states against the labels. ``prepare(channel, seats, width,
    height)`` runs once before the first detection (e.g. ``Detector.plan_for``: crops for far
    seats); what it returns goes to ``progress``."""
    from edge_agent.seats.engine import SeatEngine
    from edge_agent.types import Frame

    spec = seq.spec
    seat_rules = seq.seat_rules
    seats = [s for s in spec.seats if s.channel == spec.channel]
    engine = SeatEngine(seats, spec.rules, seat_rules, now=0.0)
    cache: dict = {}
    rendered: dict[int, np.ndarray] = {}
    dets: dict[int, object] = {}

    def frame_of(i: int, t: float):
        if i not in rendered:
            rendered[i] = seq.render(spec.steps[i], cache)
        return Frame(channel=spec.channel, image=rendered[i], captured_at=t, index=i)

    samples = seq.times()
    times = [t for _, t in samples]
    model_s = seats_s = 0.0
    if prepare is not None:
        first = frame_of(samples[0][0], 0.0).image
        said = prepare(spec.channel, seats, first.shape[1], first.shape[0])
        if progress is not None and said:
            progress(f"{spec.name}: {said}")
    if spec.reference is not None:
        # as the agent does: the installer's command, with the detections of that frame (a desk
        # where belongings are seen gets no "empty" reference)
        step = spec.reference.step
        fr = frame_of(step, 0.0)
        t0 = time.perf_counter()
        dets[step] = detect([fr])[0]
        model_s += time.perf_counter() - t0
        try:
            engine.capture_reference(spec.channel, fr, 0.0, seat_ids=spec.reference.seats, detections=dets[step])
        except TypeError:  # an older engine without seat_ids: per seat, whole polygon
            from edge_agent.seats.reference import seat_patch
            for s in seats:
                if spec.reference.seats is None or s.seat_id in spec.reference.seats:
                    engine.reference(s.seat_id).capture_now(0.0, seat_patch(fr.image, s.polygon))
        refused = {k: v for k, v in engine.refused_references().items() if k in {s.seat_id for s in seats}}
        if progress is not None and refused:
            progress(f"{spec.name}: no empty reference for " + ", ".join(
                f"{k} ({', '.join(v)} seen)" for k, v in sorted(refused.items())))
    predicted: dict[str, list[str]] = {s.seat_id: [] for s in seats}
    sinces: dict[str, list[float]] = {s.seat_id: [] for s in seats}
    for k, (i, t) in enumerate(samples):
        fr = frame_of(i, t)
        if i not in dets:  # a held frame gives the same detections: run the model once per step
            t0 = time.perf_counter()
            dets[i] = detect([fr])[0]
            model_s += time.perf_counter() - t0
        d = dets[i]
        t0 = time.perf_counter()
        engine.observe(spec.channel, fr, type(d)(channel=spec.channel, captured_at=t, detections=d.detections), t)
        seats_s += time.perf_counter() - t0
        for snap in engine.snapshots():
            predicted[snap.seat_id].append(snap.state)
            sinces[snap.seat_id].append(snap.since)
        if progress is not None and (k + 1) % 20 == 0:
            progress(f"{spec.name}: {k + 1}/{len(samples)} samples")
    if lag_s is None:
        lag_s = max(spec.rules.enter_s, spec.rules.exit_s) + spec.interval_s
    truth = labels if labels is not None else {k: [tuple(x) for x in v] for k, v in spec.labels.items()}
    if not truth:
        raise EvaluateError(f"{spec.name}: no labels (give them in the sequence or with --labels)")
    report = score(spec.name, times, predicted, truth, spec.interval_s, lag_s, since=sinces)
    report.model_runs = len(dets)
    report.model_ms = model_s * 1000.0 / len(dets) if dets else None
    report.seats_ms = seats_s * 1000.0 / len(samples) if samples else None
    return report
