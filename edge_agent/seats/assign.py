"""Per-seat evidence from one channel's detections (pure).

A seat has two zones: the seat polygon (where a person sits: chair, lap, torso over the desk)
and the desk zone (where belongings lie; drawn by the installer as ``SeatDef.desk`` or derived
from the seat polygon by ``[seat_rules] desk_band``, see ``desk_zone``).

Persons: seated people's feet are hidden by desks, so the bottom-centre point rule of zone
counters is wrong here. A person's score for a seat is the share of the *lower part* of the
person box (torso and lap over the desk, ``person_lower_fraction`` of its height) that lies
inside the seat polygon. Assignment is greedy over all (person, seat) pairs at or above
``person_overlap_min``, best score first (ties: higher confidence), so one person counts for at
most one seat and a seat gets at most one person. Two person boxes of which one lies almost
wholly inside the other (``SAME_PERSON``) are one person: a detector's box of the upper body
inside the box of the whole body must not take a second seat.

Items: a detected belonging counts for the one seat that holds the largest share of its box (in
the desk zone or anywhere on the seat: a bag a detector names on a chair is a bag, unlike a
change of pixels), if that share is at least ``item_overlap_min``. The *change* against the empty
reference is measured on the desk zone only (``seats.engine``), so a chair pushed back or turned
never reads as belongings.

Speed: ``SeatIndex`` is built once per layout (bounding boxes, areas, which polygons are plain
axis-aligned rectangles). Per frame, all (detection, seat) box overlaps are one numpy operation;
pairs whose boxes do not touch are rejected there, rectangles need no polygon maths at all, and
the remaining pairs with a skewed polygon get their exact area in one vectorised pass
(``geometry.poly_box_areas``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edge_agent.seats.geometry import (
    Box,
    Point,
    bounding_box,
    box_area,
    derive_desk,
    edge_table,
    is_axis_rect,
    poly_box_area_fast,
    poly_box_areas,
    polygon_box_intersection_area,
)
from edge_agent.seats.rules import SeatRules as SeatsSection
from edge_agent.types import Detection
from protocol.messages import Evidence, SeatDef

# Shares are computed in floating point: a box exactly at the threshold must count, not land a
# rounding error below it.
OVERLAP_TOL = 1e-9

# A person box lying this much (share of its area) inside another person box of the same frame
# is the same person: detectors' per-class NMS keeps a box of the upper body inside the box of
# the whole body when their IoU is below its threshold (the COCO SSD does at 0.5-0.6 IoU). As two
# persons, the inner box took the student's own seat and the outer one the neighbour's seat in
# front (study-table-4chairs: D read occupied while the student sat in C behind it).
SAME_PERSON = 0.9

_NO_CLASSES: list[str] = []


def desk_zone(seat: SeatDef, rules: SeatsSection) -> list[Point]:
    """The seat's desk polygon: the drawn one, else the seat polygon cut to ``desk_band``."""
    if seat.desk is not None:
        return [tuple(p) for p in seat.desk]
    return derive_desk(seat.polygon, rules.desk_band)


def evidence_confidence(
    person_overlap: float,
    person_conf: float,
    held: bool,
    item_conf: float,
    change_score: float | None,
    rules: SeatsSection,
) -> float:
    """How sure one sample's reading is, 0..1 (carried as ``Evidence.confidence``).

    person term ``p``: overlap relative to twice the threshold (capped at 1) times the detector
    score (a held still person counts at half the last overlap); desk term ``d``: the best item
    score, or the desk change relative to twice the change threshold. The sample reads person
    -> ``p``; belongings -> ``d * (1 - p)``; nothing -> ``(1 - p) * (1 - d)``, halved when the
    seat has no reference yet (an unseen desk may hold something)."""
    p_min = rules.person_overlap_min
    conf = 0.5 if held else person_conf
    p = person_overlap / (2 * p_min) if p_min > 1e-6 else 1.0
    if p > 1.0:
        p = 1.0
    p *= 1.0 if conf > 1.0 else (conf if conf > 0.0 else 0.0)
    if person_overlap >= p_min - OVERLAP_TOL:
        return round(p if p > 0.05 else 0.05, 4)
    use_ref = rules.use_reference
    c = 0.0
    if use_ref and change_score is not None:
        thr2 = 2 * rules.change_threshold
        c = change_score / thr2 if thr2 > 1e-6 else 1.0
        if c > 1.0:
            c = 1.0
    d = item_conf if item_conf > c else c
    if item_conf > 0.0 or (use_ref and change_score is not None and change_score >= rules.change_threshold):
        return round(d * (1.0 - p), 4)
    e = (1.0 - p) * (1.0 - d)
    if change_score is None and use_ref:
        e *= 0.5
    return round(e, 4)


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build, and this is per seat
class SeatMatch:
    """What assignment found for one seat, before it becomes an Evidence (treat as read-only)."""

    person: Detection | None = None
    person_overlap: float = 0.0  # the assigned person's score, else the best unassigned one
    items: tuple[Detection, ...] = ()

    def evidence(self, change_score: float | None = None, rules: SeatsSection | None = None,
                 held: bool = False) -> Evidence:
        r = rules or _DEFAULT_RULES
        items = self.items
        if change_score is None and self.person is None and not items and self.person_overlap == 0.0:
            cached_rules, ev = _NOTHING[0]  # the common case; one read, so threads never mix
            return ev if cached_rules is r else _nothing_seen(r)
        pconf = self.person.conf if self.person is not None else 0.0
        item_conf = max([d.conf for d in items]) if items else 0.0
        return Evidence(
            person_overlap=self.person_overlap,
            person_conf=pconf,
            item_count=len(items),
            item_classes=sorted({d.class_name for d in items}) if items else _NO_CLASSES,
            change_score=change_score,
            confidence=evidence_confidence(self.person_overlap, pconf, held, item_conf, change_score, r),
        )


_DEFAULT_RULES = SeatsSection()
_EMPTY_MATCH = SeatMatch()
_NOTHING: list = [(None, None)]  # [(rules, Evidence)]: one entry, an edge has one set of rules


def _nothing_seen(rules: SeatsSection) -> Evidence:
    cached_rules, ev = _NOTHING[0]
    if cached_rules is not rules:
        ev = Evidence(confidence=evidence_confidence(0.0, 0.0, False, 0.0, None, rules))
        _NOTHING[0] = (rules, ev)
    return ev


# For the engine's per-seat loop: a match of nothing, and the Evidence it reads as.
EMPTY_MATCH = _EMPTY_MATCH
nothing_seen = _nothing_seen


def lower_box(box: Box, fraction: float) -> Box:
    """The lower ``fraction`` of a box (image y grows downwards)."""
    x1, y1, x2, y2 = box
    f = min(max(fraction, 0.0), 1.0)
    return (x1, y2 - (y2 - y1) * f, x2, y2)


def person_score(box: Box, polygon: Sequence[Point], lower_fraction: float) -> float:
    part = lower_box(box, lower_fraction)
    area = box_area(part)
    if area <= 0.0:
        return 0.0
    return min(1.0, polygon_box_intersection_area(polygon, part) / area)


def item_share(box: Box, polygon: Sequence[Point]) -> float:
    area = box_area(box)
    if area <= 0.0:
        return 0.0
    return min(1.0, polygon_box_intersection_area(polygon, box) / area)


class _Zones:
    """Bounding boxes (n x 4) and rectangle flags of a list of polygons, computed once."""

    __slots__ = ("polys", "boxes", "rect", "all_rect", "edges", "neg", "sign", "zone_boxes", "rect_list")

    def __init__(self, polys: list[list[Point]]) -> None:
        self.polys = polys
        self.boxes = np.array([bounding_box(p) for p in polys], dtype=np.float64).reshape(-1, 4)
        self.rect = np.array([is_axis_rect(p) for p in polys], dtype=bool)
        self.all_rect = bool(self.rect.all())
        self.edges, self.neg, self.sign = edge_table(polys)
        self.zone_boxes = [tuple(b) for b in self.boxes.tolist()]
        self.rect_list = self.rect.tolist()

    def shares(self, boxes: np.ndarray, areas: np.ndarray, skip: tuple[int, int] = (0, 0)) -> np.ndarray:
        """share[i, j] = area(box i inside polygon j) / area(box i), 0 where the area is 0.
        ``skip`` = (r, c): rows below r are only needed from column c on (the small path leaves
        the rest 0; callers must not read them)."""
        m, n = len(boxes), len(self.polys)
        if m == 0 or n == 0:
            return np.zeros((m, n))
        if m * n <= _SMALL:
            return self._shares_small(boxes, areas, skip)
        need = None
        if skip[0] and skip[1]:
            need = np.ones((m, n), dtype=bool)
            need[: skip[0], : skip[1]] = False  # not needed: no exact areas for them
        return self.shares_masked(boxes, areas, need)

    def pair_shares(self, boxes: np.ndarray, areas: np.ndarray, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        """Shares for the listed (box pi[k], zone pj[k]) pairs only (1-D)."""
        b, z = boxes[pi], self.boxes[pj]
        w = np.minimum(b[:, 2], z[:, 2]) - np.maximum(b[:, 0], z[:, 0])
        h = np.minimum(b[:, 3], z[:, 3]) - np.maximum(b[:, 1], z[:, 1])
        inter = np.where((w > 0) & (h > 0), w * h, 0.0)
        if not self.all_rect:
            (kk,) = np.nonzero((inter > 0) & ~self.rect[pj])
            if len(kk):
                jj = pj[kk]
                inter[kk] = np.maximum(poly_box_areas(b[kk], self.edges[jj], self.neg[jj], self.sign[jj]), 0.0)
        a = areas[pi]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(a > 0, inter / np.where(a > 0, a, 1.0), 0.0)
        return np.minimum(out, 1.0)

    def shares_masked(self, boxes: np.ndarray, areas: np.ndarray, need: np.ndarray | None) -> np.ndarray:
        """``shares`` in numpy, only where ``need`` (m x n bool, None: everywhere); 0 elsewhere."""
        b, z = boxes[:, None, :], self.boxes[None, :, :]
        w = np.minimum(b[..., 2], z[..., 2]) - np.maximum(b[..., 0], z[..., 0])
        h = np.minimum(b[..., 3], z[..., 3]) - np.maximum(b[..., 1], z[..., 1])
        touch = (w > 0) & (h > 0)
        if need is not None:
            touch &= need
        inter = np.where(touch, w * h, 0.0)
        # Skewed polygons: exact area (vectorised), only for pairs whose boxes touch.
        if not self.all_rect:
            ii, jj = np.nonzero((inter > 0) & ~self.rect[None, :])
            if len(ii) > _FEW:
                inter[ii, jj] = np.maximum(poly_box_areas(boxes[ii], self.edges[jj], self.neg[jj], self.sign[jj]), 0.0)
            elif len(ii):  # a few pairs: plain Python clipping is cheaper than ~30 numpy calls
                bl, zb, polys = boxes.tolist(), self.zone_boxes, self.polys
                for i, j in zip(ii.tolist(), jj.tolist()):
                    x1, y1, x2, y2 = bl[i]
                    inter[i, j] = poly_box_area_fast(polys[j], x1, y1, x2, y2, zb[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(areas[:, None] > 0, inter / np.where(areas[:, None] > 0, areas[:, None], 1.0), 0.0)
        return np.minimum(out, 1.0)


    def _shares_small(self, boxes: np.ndarray, areas: np.ndarray, skip: tuple[int, int]) -> np.ndarray:
        """The same in plain Python: below a few hundred pairs numpy's call overhead costs more
        than the arithmetic."""
        out = np.zeros((len(boxes), len(self.polys)))
        zb, rect, polys = self.zone_boxes, self.rect_list, self.polys
        n_rows, col0 = skip
        skewed: list[tuple[int, int]] = []
        for i, (bx1, by1, bx2, by2) in enumerate(boxes.tolist()):
            a = float(areas[i])
            if a <= 0.0:
                continue
            row = out[i]
            j0 = col0 if i < n_rows else 0
            for j in range(j0, len(zb)):
                zx1, zy1, zx2, zy2 = zb[j]
                w = (bx2 if bx2 < zx2 else zx2) - (bx1 if bx1 > zx1 else zx1)
                if w <= 0.0:
                    continue
                h = (by2 if by2 < zy2 else zy2) - (by1 if by1 > zy1 else zy1)
                if h <= 0.0:
                    continue
                if rect[j]:
                    v = w * h / a
                    row[j] = v if v < 1.0 else 1.0
                else:
                    skewed.append((i, j))
        if len(skewed) > _MANY:  # many: one vectorised pass
            ii, jj = np.array(skewed).T
            inter = np.maximum(poly_box_areas(boxes[ii], self.edges[jj], self.neg[jj], self.sign[jj]), 0.0)
            out[ii, jj] = np.minimum(inter / areas[ii], 1.0)
        else:
            bl = boxes.tolist()
            for i, j in skewed:
                x1, y1, x2, y2 = bl[i]
                v = poly_box_area_fast(polys[j], x1, y1, x2, y2, zb[j]) / float(areas[i])
                out[i, j] = v if v < 1.0 else 1.0
        return out


_SMALL = 400  # (box, zone) pairs below which the plain-Python path is faster
_FEW = 10  # skewed pairs below which exact areas are clipped in plain Python (numpy path)
_MANY = 40  # the same for the plain-Python path (its pairs are already in Python)


def _inside(inner: Sequence[Point], outer: Sequence[Point]) -> bool:
    """Every point of ``inner`` in the convex polygon ``outer`` (so all of ``inner`` is); False
    for a concave ``outer`` (then nothing is assumed)."""
    n = len(outer)
    signs = set()
    for i in range(n):
        (ax, ay), (bx, by) = outer[i], outer[(i + 1) % n]
        for px, py in list(inner) + [outer[(i + 2) % n]]:
            c = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
            if abs(c) > 1e-12:
                signs.add(c > 0)
        if len(signs) > 1:
            return False
    return True


class SeatIndex:
    """The seats of one channel, prepared for fast per-frame assignment. Build it once per
    layout (``SeatEngine`` does) and call ``match`` per frame."""

    def __init__(self, seats: Sequence[SeatDef], rules: SeatsSection) -> None:
        self.seats = list(seats)
        self.rules = rules
        self.ids = [s.seat_id for s in self.seats]
        self.seat_zones = _Zones([[tuple(p) for p in s.polygon] for s in self.seats])
        self.desks = [desk_zone(s, rules) for s in self.seats]
        # An item's share of the seat is at least its share of the desk when the desk lies inside
        # the seat polygon (always for derived desks): then the seat columns alone decide.
        # Otherwise items are measured against desks and seats in one pass: columns 0..n-1
        # desks, n.. seats.
        self.desks_inside = all(s.desk is None or _inside(d, s.polygon) for s, d in zip(self.seats, self.desks))
        self.zones = self.seat_zones if self.desks_inside else _Zones(self.desks + self.seat_zones.polys)
        self.seat_col0 = 0 if self.desks_inside else len(self.seats)

    def _prepare(self, detections: Sequence[Detection]):
        """(persons, items, boxes, areas) of one frame, persons' boxes cut to their lower part;
        None when there is nothing to match."""
        persons = [d for d in detections if d.kind == "person"]
        items = [d for d in detections if d.kind == "item"]
        if not self.seats or not (persons or items):
            return None
        np_ = len(persons)
        b = np.array([d.box for d in persons] + [d.box for d in items], dtype=np.float64)
        f = min(max(self.rules.person_lower_fraction, 0.0), 1.0)
        pb = b[:np_]
        pb[:, 1] = pb[:, 3] - (pb[:, 3] - pb[:, 1]) * f
        areas = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
        return persons, items, b, areas

    def match(self, detections: Sequence[Detection]) -> dict[str, SeatMatch]:
        return dict(zip(self.ids, self.match_list(detections)))

    def match_list(self, detections: Sequence[Detection]) -> list[SeatMatch]:
        """``match`` as a list in ``ids`` order (no dict per frame: the engine's hot path)."""
        prep = self._prepare(detections)
        if prep is None:
            return [_EMPTY_MATCH] * len(self.ids)
        persons, items, b, areas = prep
        # One pass for all boxes against all zones. numpy's per-call cost dominates at these sizes.
        share = self.zones.shares(b, areas, skip=(len(persons), self.seat_col0))  # persons: seat columns only
        return self._assign(persons, items, share)

    def _assign(self, persons: list[Detection], items: list[Detection], share: np.ndarray) -> list[SeatMatch]:
        """Greedy assignment from the share matrix (rows: persons then items; columns: desks
        then seats when ``seat_col0`` > 0, else seats)."""
        n, np_, c0 = len(self.seats), len(persons), self.seat_col0
        it_share = share[np_:]
        if c0:
            it_share = np.maximum(it_share[:, :n], it_share[:, n:])
        found = _greedy(persons, items, share[:np_, c0:], it_share, self.rules)
        return _match_list(n, 0, persons, *found)


def same_person(persons: Sequence[Detection], channels: Sequence[int] | None = None) -> dict[int, list[int]]:
    """Per person index, the other person boxes that are the same person (``SAME_PERSON``: one of
    the two lies that much inside the other; same channel only when ``channels`` is given, one
    per person). Empty for the common frame without such pairs."""
    n = len(persons)
    if n < 2:
        return {}
    b = np.array([p.box for p in persons], dtype=np.float64)
    w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    smaller = np.minimum(area[:, None], area[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(smaller > 0, inter / np.where(smaller > 0, smaller, 1.0), 0.0)
    np.fill_diagonal(inside, 0.0)
    dup = inside >= SAME_PERSON - OVERLAP_TOL
    if channels is not None:
        ch = np.asarray(channels)
        dup &= ch[:, None] == ch[None, :]
    out: dict[int, list[int]] = {}
    for i, j in zip(*np.nonzero(dup)):
        out.setdefault(int(i), []).append(int(j))
    return out


def _greedy(persons: list[Detection], items: list[Detection], sc: np.ndarray | None, it_share: np.ndarray,
            rules: SeatsSection, pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
            channels: Sequence[int] | None = None,
            ) -> tuple[dict[int, tuple[int, float]], dict[int, float], dict[int, list[Detection]]]:
    """Persons to seats (``sc``: persons x seats, or ``pairs``: the (person, seat, score) pairs
    with a score > 0, from a caller that has them) and items to seats (``it_share``). Boxes of
    one person (``same_person``; ``channels``: each person's channel when they come from several)
    claim one seat together."""
    seat_person: dict[int, tuple[int, float]] = {}
    best_any: dict[int, float] = {}
    seat_items: dict[int, list[Detection]] = {}
    if persons:
        if pairs is None:
            pi_idx, si_idx = np.nonzero(sc > 0.0)
            vals = sc[pi_idx, si_idx]
        else:
            pi_idx, si_idx, vals = pairs
        if len(pi_idx):
            confs = np.array([p.conf for p in persons])[pi_idx]
            # Greedy: best score first, then higher confidence; index order breaks ties stably
            # (the order of sorting (-score, -conf, person, seat) tuples, sorted by numpy).
            order = np.lexsort((si_idx, pi_idx, -confs, -vals))
            ranked = list(zip(vals[order].tolist(), pi_idx[order].tolist(), si_idx[order].tolist()))
            used: set[int] = set()
            floor = rules.person_overlap_min - OVERLAP_TOL
            dups = same_person(persons, channels) if len(persons) > 1 else {}
            for v, pi, si in ranked:
                if v < floor:
                    break
                if pi in used or si in seat_person:
                    continue
                seat_person[si] = (pi, v)
                used.add(pi)
                used.update(dups.get(pi, ()))
            # Unassigned seats report the best score of a person nobody took (below threshold
            # by construction), so the evidence shows "almost" cases without claiming one.
            # Scores come best first: a seat's first such pair is its best.
            for v, pi, si in ranked:
                if si not in seat_person and pi not in used and si not in best_any:
                    best_any[si] = v
    if items:
        best = it_share.argmax(axis=1).tolist()
        vals = it_share[np.arange(len(items)), best].tolist()
        floor = rules.item_overlap_min - OVERLAP_TOL
        for it, si, v in zip(items, best, vals):
            if v > 0.0 and v >= floor:
                seat_items.setdefault(si, []).append(it)
    return seat_person, best_any, seat_items


def _match_list(n: int, offset: int, persons: list[Detection], seat_person: dict, best_any: dict,
                seat_items: dict) -> list[SeatMatch]:
    """The matches of seats ``offset .. offset + n - 1`` (columns), in order. Only the seats
    something was found for are visited: most seats of a frame have nothing."""
    out = [_EMPTY_MATCH] * n
    for si in set(seat_person).union(seat_items, best_any):
        k = si - offset
        if not 0 <= k < n:
            continue
        got = seat_person.get(si)
        its = seat_items.get(si)
        if got is not None:
            out[k] = SeatMatch(person=persons[got[0]], person_overlap=got[1], items=tuple(its or ()))
        else:
            out[k] = SeatMatch(person_overlap=best_any.get(si, 0.0), items=tuple(its or ()))
    return out


class ChannelsIndex:
    """The seats of all channels at once: one numpy pass over every channel's boxes per tick
    (a box meets only its own channel's seats, by a mask) and one greedy assignment over all
    pairs: pairs of different channels never compete, so it equals per-channel assignment
    (index order within a channel is kept). Per channel, numpy's call overhead costs more than
    the arithmetic; across 16 channels it is paid once. Falls back to per-channel matching where
    a drawn desk lies outside its seat polygon."""

    def __init__(self, indexes: Mapping[int, SeatIndex]) -> None:
        self.indexes = dict(indexes)
        self.shared = all(ix.desks_inside for ix in self.indexes.values())
        polys: list[list[Point]] = []
        self.cols: dict[int, tuple[int, int]] = {}
        col_ch: list[int] = []
        self.ids: list[str] = []
        for ch, ix in self.indexes.items():
            self.cols[ch] = (len(polys), len(polys) + len(ix.seats))
            polys += ix.seat_zones.polys
            col_ch += [ch] * len(ix.seats)
            self.ids += ix.ids
        self.owner = [(ch, k) for ch, ix in self.indexes.items() for k in range(len(ix.seats))]  # per column
        self.rules = next(iter(self.indexes.values())).rules if self.indexes else SeatsSection()
        self.zones = _Zones(polys)
        self.col_ch = np.array(col_ch, dtype=np.int64)

    def match(self, detections: Mapping[int, Sequence[Detection]]) -> dict[int, dict[str, SeatMatch]]:
        """Per channel (of those given that have seats) its seat matches."""
        return {ch: dict(zip(self.indexes[ch].ids, m)) for ch, m in self.match_lists(detections).items()}

    def match_lists(self, detections: Mapping[int, Sequence[Detection]]) -> dict[int, list[SeatMatch]]:
        """``match`` with each channel's matches as a list in its ``SeatIndex.ids`` order."""
        chans = [ch for ch in detections if ch in self.indexes]
        if not self.shared or len(chans) <= 1:  # one channel: its own (small-size) path
            return {ch: self.indexes[ch].match_list(detections[ch]) for ch in chans}
        persons: list[Detection] = []
        items: list[Detection] = []
        p_ch: list[int] = []
        i_ch: list[int] = []
        for ch in chans:
            for d in detections[ch]:
                if d.kind == "person":
                    persons.append(d)
                    p_ch.append(ch)
                elif d.kind == "item":
                    items.append(d)
                    i_ch.append(ch)
        if not persons and not items:
            return {ch: [_EMPTY_MATCH] * len(self.indexes[ch].ids) for ch in chans}
        np_ = len(persons)
        b = np.array([d.box for d in persons] + [d.box for d in items], dtype=np.float64)
        f = min(max(self.rules.person_lower_fraction, 0.0), 1.0)
        pb = b[:np_]
        pb[:, 1] = pb[:, 3] - (pb[:, 3] - pb[:, 1]) * f  # lower part of each person box
        areas = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
        # Only same-channel pairs: each row against its channel's column range.
        starts = np.array([self.cols[ch][0] for ch in p_ch + i_ch], dtype=np.int64)
        counts = np.array([self.cols[ch][1] - self.cols[ch][0] for ch in p_ch + i_ch], dtype=np.int64)
        pi = np.repeat(np.arange(len(b)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        pj = np.repeat(starts, counts) + (np.arange(len(pi)) - first)
        vals = self.zones.pair_shares(b, areas, pi, pj)
        share = np.zeros((len(b) - np_, len(self.ids)))  # items x all seats, for their argmax
        it = pi >= np_
        share[pi[it] - np_, pj[it]] = vals[it]
        pos = (pi < np_) & (vals > 0.0)  # persons' pairs in row order, as np.nonzero gives them
        found = _greedy(persons, items, None, share, self.rules, pairs=(pi[pos], pj[pos], vals[pos]), channels=p_ch)
        return _split(chans, self.cols, self.owner, persons, *found)


def _split(chans: list[int], cols: Mapping[int, tuple[int, int]], owner: list[tuple[int, int]],
           persons: list[Detection], seat_person: dict, best_any: dict, seat_items: dict) -> dict[int, list[SeatMatch]]:
    """Per channel its matches from one assignment over all channels' columns (``owner``: the
    channel and the index within it of each column); each found seat is visited once."""
    out = {ch: [_EMPTY_MATCH] * (cols[ch][1] - cols[ch][0]) for ch in chans}
    for si in set(seat_person).union(seat_items, best_any):
        ch, k = owner[si]
        got = seat_person.get(si)
        its = seat_items.get(si)
        if got is not None:
            out[ch][k] = SeatMatch(person=persons[got[0]], person_overlap=got[1], items=tuple(its or ()))
        else:
            out[ch][k] = SeatMatch(person_overlap=best_any.get(si, 0.0), items=tuple(its or ()))
    return out


def match_seats(
    seats: Sequence[SeatDef], detections: Sequence[Detection], rules: SeatsSection
) -> dict[str, SeatMatch]:
    """One-off assignment (builds a ``SeatIndex``; a caller with a fixed layout keeps one)."""
    return SeatIndex(seats, rules).match(detections)


def seat_evidence(
    seats: Sequence[SeatDef],
    detections: Sequence[Detection],
    rules: SeatsSection,
    change_scores: Mapping[str, float | None] | None = None,
) -> dict[str, Evidence]:
    """Evidence per seat id for the seats of one channel (pass only that channel's seats)."""
    cs = change_scores or {}
    return {sid: m.evidence(cs.get(sid), rules)
            for sid, m in match_seats(seats, detections, rules).items()}
