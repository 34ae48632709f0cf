"""Per-seat evidence from one channel's detections (pure).

Persons: seated people's feet are hidden by desks, so the bottom-centre point rule of zone
counters is wrong here. A person's score for a seat is the share of the *lower part* of the
person box (torso and lap over the desk, ``person_lower_fraction`` of its height) that lies
inside the seat polygon. Assignment is greedy over all (person, seat) pairs at or above
``person_overlap_min``, best score first (ties: higher confidence), so one person counts for at
most one seat and a seat gets at most one person.

Items: a belonging counts for the one seat that holds the largest share of its box, if that
share is at least ``item_overlap_min``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge_agent.config import SeatsSection
from edge_agent.geometry import Box, Point, box_area, polygon_box_intersection_area
from edge_agent.types import Detection
from protocol.messages import Evidence, SeatDef

# Shares are computed in floating point: a box exactly at the threshold must count, not land a
# rounding error below it.
OVERLAP_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class SeatMatch:
    """What assignment found for one seat, before it becomes an Evidence."""

    person: Detection | None = None
    person_overlap: float = 0.0  # the assigned person's score, else the best unassigned one
    items: tuple[Detection, ...] = ()

    def evidence(self, change_score: float | None = None) -> Evidence:
        return Evidence(
            person_overlap=self.person_overlap,
            person_conf=self.person.conf if self.person else 0.0,
            item_count=len(self.items),
            item_classes=sorted({d.class_name for d in self.items}),
            change_score=change_score,
        )


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


def match_seats(
    seats: Sequence[SeatDef], detections: Sequence[Detection], rules: SeatsSection
) -> dict[str, SeatMatch]:
    persons = [d for d in detections if d.kind == "person"]
    items = [d for d in detections if d.kind == "item"]

    scores: list[tuple[float, float, int, int]] = []  # (score, conf, person index, seat index)
    best_any = [0.0] * len(seats)
    for pi, p in enumerate(persons):
        for si, s in enumerate(seats):
            sc = person_score(p.box, s.polygon, rules.person_lower_fraction)
            if sc <= 0.0:
                continue
            scores.append((sc, p.conf, pi, si))
    # Greedy: best score first, then higher confidence; index order breaks exact ties stably.
    scores.sort(key=lambda r: (-r[0], -r[1], r[2], r[3]))
    seat_person: dict[int, tuple[int, float]] = {}
    used_persons: set[int] = set()
    for sc, _conf, pi, si in scores:
        if sc < rules.person_overlap_min - OVERLAP_TOL:
            break
        if pi in used_persons or si in seat_person:
            continue
        seat_person[si] = (pi, sc)
        used_persons.add(pi)
    # Unassigned seats report the best score of a person nobody took (below threshold by
    # construction), so the evidence shows "almost" cases without claiming a person.
    for sc, _conf, pi, si in scores:
        if si not in seat_person and pi not in used_persons and sc > best_any[si]:
            best_any[si] = sc

    seat_items: dict[int, list[Detection]] = {}
    for it in items:
        best_si, best_share = -1, 0.0
        for si, s in enumerate(seats):
            share = item_share(it.box, s.polygon)
            if share > best_share:
                best_si, best_share = si, share
        if best_si >= 0 and best_share >= rules.item_overlap_min - OVERLAP_TOL:
            seat_items.setdefault(best_si, []).append(it)

    out: dict[str, SeatMatch] = {}
    for si, s in enumerate(seats):
        if si in seat_person:
            pi, sc = seat_person[si]
            m = SeatMatch(person=persons[pi], person_overlap=sc, items=tuple(seat_items.get(si, ())))
        else:
            m = SeatMatch(person_overlap=best_any[si], items=tuple(seat_items.get(si, ())))
        out[s.seat_id] = m
    return out


def seat_evidence(
    seats: Sequence[SeatDef],
    detections: Sequence[Detection],
    rules: SeatsSection,
    change_scores: Mapping[str, float | None] | None = None,
) -> dict[str, Evidence]:
    """Evidence per seat id for the seats of one channel (pass only that channel's seats)."""
    cs = change_scores or {}
    return {sid: m.evidence(cs.get(sid)) for sid, m in match_seats(seats, detections, rules).items()}
