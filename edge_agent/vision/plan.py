"""Per channel, what the far seats need (issue 17, 3.): the whole frame, or extra model passes
on crops around the seats that are small at the model's input size, or a tile grid.

A seated student is found reliably when the seat is at least ``MIN_SEAT_PX`` high in the
model's input: the frame is scaled so its long side is ``imgsz`` (ultralytics letterbox), or
squeezed to the fixed input of an SSD. A crop around far seats is scaled up to the input size
by the same letterbox (the model sees it bigger; no extra resampling needed). Per channel the
plan takes whichever needs fewer model passes: one crop per group of far seats, or the
configured-or-default tile grid. ``imgsz`` is one value for the shared model (one batch for all
channels), so a larger imgsz is only *suggested* (``ChannelPlan.text``). Pure: numbers in, plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol.messages import SeatDef

MIN_SEAT_PX = 96  # seat height at the model input below which students are missed (c9, c10: missed at
# 57-72 px, found at 94-136 px; docs/belongings.md)
MAX_CROPS = 4  # more groups of far seats than this: a tile grid is cheaper
DEFAULT_GRID = (3, 2)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ChannelPlan:
    channel: int
    how: str  # "whole frame", "crops" or "tiles"
    windows: list[Box] = field(default_factory=list)  # extra model passes (normalised boxes)
    far: list[str] = field(default_factory=list)  # seats below MIN_SEAT_PX at the input size
    smallest_px: float = 0.0  # the smallest seat's height at the model input, whole frame
    crop_px: float = 0.0  # ... and in its crop (what the extra pass buys)
    suggest_imgsz: int | None = None  # an imgsz at which every seat would be large enough

    @property
    def passes(self) -> int:
        return 1 + len(self.windows)

    def text(self) -> str:
        head = f"ch{self.channel}: smallest seat {self.smallest_px:.0f} px at the model input"
        if self.how == "whole frame":
            return f"{head}: the whole frame is enough (1 pass)"
        more = f" (or imgsz {self.suggest_imgsz} for all channels)" if self.suggest_imgsz else ""
        return (f"{head}; {len(self.far)} far seats ({', '.join(self.far)}) -> {self.how}, "
                f"{self.passes} passes, far seats at {self.crop_px:.0f} px{more}")


def tile_windows(cols: int, rows: int, overlap: float) -> list[tuple[float, float, float, float]]:
    """Overlapping crops covering the frame, normalised (x1, y1, x2, y2): ``cols`` x ``rows``
    crops, neighbours sharing ``overlap`` of a crop's width/height."""
    def spans(n: int) -> list[tuple[float, float]]:
        if n <= 1:
            return [(0.0, 1.0)]
        size = 1.0 / (n - (n - 1) * overlap)
        stride = size * (1.0 - overlap)
        return [(i * stride, min(1.0, i * stride + size)) for i in range(n)]

    return [(x1, y1, x2, y2) for (y1, y2) in spans(rows) for (x1, x2) in spans(cols)]


def bounding_box(poly: Sequence[tuple[float, float]]) -> Box:
    """(x1, y1, x2, y2) of a polygon (vision does not import the seat stage's geometry)."""
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    return (min(xs), min(ys), max(xs), max(ys))


def seat_px(seat: SeatDef, frame_w: int, frame_h: int, input_px: int, letterbox: bool = True) -> float:
    """The seat's height in model input pixels, whole frame."""
    _, y1, _, y2 = bounding_box(seat.polygon)
    scale = input_px / max(frame_w, frame_h) if letterbox else input_px / frame_h
    return (y2 - y1) * frame_h * scale


def _window(seat: SeatDef, aspect: float) -> Box:
    """Around a seat with room for the student above it (head and shoulders rise above a drawn
    seat) and some room: the seat box grown to 3 seat heights (1.25 above, 0.75 below) and half
    its width each side, then made square in frame pixels (the model input is square). Tighter
    crops lost the far student of c10 (the model reads a crop filled by one person as a
    whole-crop box, which the detector drops); at 3 heights it is found (docs/belongings.md)."""
    x1, y1, x2, y2 = bounding_box(seat.polygon)
    w, h = x2 - x1, y2 - y1
    bx1, by1, bx2, by2 = x1 - w / 2, y1 - 1.25 * h, x2 + w / 2, y2 + 0.75 * h
    # square in pixels: width in normalised x is side/aspect where aspect = frame_w / frame_h
    side = max((bx2 - bx1) * aspect, by2 - by1)
    cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
    return _clip((cx - side / aspect / 2, cy - side / 2, cx + side / aspect / 2, cy + side / 2))


def _clip(b: Box) -> Box:
    x1, y1, x2, y2 = b
    w, h = min(1.0, x2 - x1), min(1.0, y2 - y1)
    x1 = min(max(0.0, x1), 1.0 - w)
    y1 = min(max(0.0, y1), 1.0 - h)
    return (x1, y1, x1 + w, y1 + h)


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _side(b: Box, aspect: float) -> float:
    """The longer side of a box, in frame heights."""
    return max((b[2] - b[0]) * aspect, b[3] - b[1])


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def plan_channel(channel: int, seats: Sequence[SeatDef], frame_w: int, frame_h: int, input_px: int, *,
                 letterbox: bool = True, grid: tuple[int, int] = DEFAULT_GRID, overlap: float = 0.25,
                 min_px: float = MIN_SEAT_PX) -> ChannelPlan:
    seats = [s for s in seats if s.channel == channel and s.active]
    if not seats:
        return ChannelPlan(channel, "whole frame")
    px = {s.seat_id: seat_px(s, frame_w, frame_h, input_px, letterbox) for s in seats}
    smallest = min(px.values())
    far = [s for s in seats if px[s.seat_id] < min_px]
    if not far:
        return ChannelPlan(channel, "whole frame", smallest_px=smallest)
    aspect = frame_w / frame_h
    windows: list[Box] = []
    for s in sorted(far, key=lambda s: bounding_box(s.polygon)[:2]):
        win = _window(s, aspect)
        for i, other in enumerate(windows):  # nearby far seats share one crop, if it stays small
            both = _union(win, other)
            if _overlap(win, other) and _side(both, aspect) <= 1.25 * max(_side(win, aspect), _side(other, aspect)):
                windows[i] = _clip(both)
                break
        else:
            windows.append(win)
    cols, rows = grid
    if len(windows) > MAX_CROPS or len(windows) >= cols * rows:
        windows, how = tile_windows(cols, rows, overlap), "tiles"
    else:
        how = "crops"

    def in_crop(s: SeatDef) -> float:
        _, y1, _, y2 = bounding_box(s.polygon)
        c = next((w for w in windows if _overlap(w, bounding_box(s.polygon))), (0.0, 0.0, 1.0, 1.0))
        cw, ch = (c[2] - c[0]) * frame_w, (c[3] - c[1]) * frame_h
        scale = input_px / max(cw, ch) if letterbox else input_px / ch
        return (y2 - y1) * frame_h * scale

    need = input_px * min_px / smallest
    suggest = int(-(-need // 32) * 32) if letterbox else None
    return ChannelPlan(channel, how, windows, [s.seat_id for s in far], smallest,
                       min(in_crop(s) for s in far), suggest)
