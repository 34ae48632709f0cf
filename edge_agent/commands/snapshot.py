"""`seat-edge snapshot`: one current frame with seat polygons, states and detections drawn."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edge_agent.settings import EdgeConfig, SeatsSection
from edge_agent.types import FrameDetections
from protocol.messages import SeatDef

# BGR colours per state, the same meaning as on the pages
STATE_COLOURS = {
    "empty": (80, 175, 76),
    "occupied": (219, 112, 33),
    "away": (0, 170, 255),
    "abandoned": (54, 67, 244),
    "unknown": (158, 158, 158),
}


class SnapshotError(RuntimeError):
    pass


def draw(image: np.ndarray, seats: list[SeatDef], states: dict[str, str], det: FrameDetections | None,
         seat_rules: SeatsSection | None = None) -> np.ndarray:
    """Seat polygons filled in their state's colour, each seat's desk zone (drawn or derived:
    where belongings are judged) as a thin white outline, and the detector's boxes."""
    import cv2

    from edge_agent.seats.assign import desk_zone

    rules = seat_rules or SeatsSection()
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(2, w // 400)
    for seat in seats:
        colour = STATE_COLOURS.get(states.get(seat.seat_id, "unknown"), STATE_COLOURS["unknown"])
        pts = np.array([[x * w, y * h] for x, y in seat.polygon], np.int32)
        overlay = out.copy()
        cv2.fillPoly(overlay, [pts], colour)
        out = cv2.addWeighted(overlay, 0.25, out, 0.75, 0)
        cv2.polylines(out, [pts], True, colour, thick)
        desk = np.array([[x * w, y * h] for x, y in desk_zone(seat, rules)], np.int32)
        cv2.polylines(out, [desk], True, (255, 255, 255), max(1, thick // 2), cv2.LINE_AA)
        text = f"{seat.label or seat.seat_id}: {states.get(seat.seat_id, 'unknown')}"
        x, y = pts[:, 0].min(), pts[:, 1].min()
        cv2.putText(out, text, (int(x) + 4, int(y) + 6 * thick + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.3 * thick,
                    colour, max(1, thick // 2), cv2.LINE_AA)
    for d in det.detections if det else []:
        x1, y1, x2, y2 = (int(d.box[0] * w), int(d.box[1] * h), int(d.box[2] * w), int(d.box[3] * h))
        colour = (255, 255, 255) if d.kind == "person" else (0, 255, 255)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, max(1, thick // 2))
        cv2.putText(out, f"{d.class_name} {d.conf:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.25 * thick, colour, 1, cv2.LINE_AA)
    return out


def take_snapshot(cfg: EdgeConfig, channel: int, out: Path) -> str:
    import cv2

    from edge_agent.agent import initial_layout
    from edge_agent.storage.db import EdgeStore
    from edge_agent.types import Frame
    from edge_agent.vision.capture import open_source
    from edge_agent.vision.detector import Detector
    from edge_agent.vision.sources import CaptureOptions, SourceError

    chan = next((c for c in cfg.channels if c.id == channel), None)
    if chan is None:
        raise SnapshotError(f"channel {channel} is not in the config (channels: {[c.id for c in cfg.channels]})")
    try:
        source = open_source(chan, CaptureOptions())
        try:
            image, _ = source.read()
        finally:
            source.close()
    except SourceError as exc:
        raise SnapshotError(f"channel {channel}: {exc}") from None
    frame = Frame(channel=channel, image=image, captured_at=time.time())
    det = Detector(cfg.model).detect([frame])[0]
    store = EdgeStore(cfg.data_path / "edge.sqlite")
    try:
        layout = initial_layout(cfg, store)
        states = {s.seat_id: s.state for s in store.load_states()}
    finally:
        store.close()
    seats = [s for s in layout.seats if s.channel == channel]
    picture = draw(image, seats, states, det, cfg.seat_rules)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), picture):
        raise SnapshotError(f"cannot write {out} (use a .png or .jpg name in a writable folder)")
    persons = sum(d.kind == "person" for d in det.detections)
    return f"wrote {out}: {len(seats)} seats, {persons} persons, {len(det.detections) - persons} items"
