"""The floor plan view: the store's room the way staff know it (the kiosk's grid of sections,
rows, columns and walls), each seat coloured by its camera state and marked with its kiosk state.
Pure: rows in, cells out; ``ui/templates/hub/floorplan.html`` draws them (no JS needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.kiosk.model import wall_names
from ui.i18n import Translator, format_duration
from ui.seatmap import ICONS, SEAT_STATES, resumed_note, timer_text

KIOSK_ICONS = {"free": "□", "sold": "◇", "in_use": "■", "unknown": "?"}


@dataclass(frozen=True)
class FloorSeatIn:
    kiosk_seat_id: str
    section: str
    row: int
    col: int
    label: str
    product: str
    walls: int
    camera_seat_id: str | None
    kiosk_state: str | None  # None: placed by hand, no kiosk state
    remaining_s: int | None


@dataclass(frozen=True)
class FloorCell:
    kiosk_seat_id: str
    label: str
    grid_row: int  # 1-based inside its section
    grid_col: int
    walls: str  # CSS classes: "wall-top wall-left"
    camera_seat_id: str | None
    camera_label: str  # the camera seat's own label (the ROI editor's), when mapped
    state: str  # camera state; "unmapped" when no camera seat is mapped
    icon: str
    state_name: str
    since: float | None
    timer: str
    kiosk: str  # free | sold | in_use | unknown | none
    kiosk_icon: str
    kiosk_text: str
    remaining: str
    product: str
    alerts: tuple[str, ...]
    note: str = ""  # "time before restart unknown" next to a timer that restarted with the box


@dataclass(frozen=True)
class FloorSection:
    name: str
    rows: int
    cols: int
    cells: list[FloorCell]


@dataclass(frozen=True)
class KioskBadge:
    status: str  # ok | unknown | none
    text: str


@dataclass(frozen=True)
class FloorPlan:
    sections: list[FloorSection]
    badge: KioskBadge
    mapped: int
    seats: int


def kiosk_badge(has_kiosk: bool, unknown_since: float | None, last_ok_at: float | None, error: str | None,
                now: float, t: Translator, kst) -> KioskBadge:
    if not has_kiosk:
        return KioskBadge("none", t("kiosk.badge.none"))
    if unknown_since is None:
        return KioskBadge("ok", t("kiosk.badge.ok", ago=format_duration(now - (last_ok_at or now), t)))
    return KioskBadge("unknown", t("kiosk.badge.unknown", since=kst(unknown_since),
                                   d=format_duration(now - unknown_since, t), error=error or "-"))


def build_floor(seats: Iterable[FloorSeatIn], camera: Mapping[str, tuple],
                alerts: Mapping[str, Iterable[str]], kiosk_known: bool, now: float, t: Translator,
                badge: KioskBadge) -> FloorPlan:
    """``camera``: camera seat id -> (state, since, label[, resumed]); ``alerts``: camera seat id ->
    open kiosk alert kinds. ``resumed``: the timer restarted with the store box (issue 19 point 8)."""
    by_section: dict[str, list[FloorSeatIn]] = {}
    for s in seats:
        by_section.setdefault(s.section, []).append(s)
    sections: list[FloorSection] = []
    mapped = total = 0
    for name in sorted(by_section):
        items = by_section[name]
        r0, c0 = min(s.row for s in items), min(s.col for s in items)
        cells = []
        for s in sorted(items, key=lambda x: (x.row, x.col, x.kiosk_seat_id)):
            total += 1
            if s.camera_seat_id is not None and s.camera_seat_id in camera:
                mapped += 1
                state, since, cam_label, *rest = camera[s.camera_seat_id]
                note = resumed_note(bool(rest and rest[0]), since, t)
                state = state if state in SEAT_STATES else "unknown"
                icon, state_name, timer = ICONS[state], t(f"state.{state}"), timer_text(state, since, now, t)
            else:
                state, since, icon, state_name, timer, note = "unmapped", None, "·", t("floor.unmapped"), "", ""
                cam_label = ""
            if s.kiosk_state is None:
                kiosk = "none"
            elif not kiosk_known:
                kiosk = "unknown"
            else:
                kiosk = s.kiosk_state
            remaining = (format_duration(s.remaining_s, t) if kiosk in ("sold", "in_use") and s.remaining_s is not None
                         else "")
            cells.append(FloorCell(
                kiosk_seat_id=s.kiosk_seat_id, label=s.label or s.kiosk_seat_id, grid_row=s.row - r0 + 1,
                grid_col=s.col - c0 + 1, walls=" ".join(f"wall-{w}" for w in wall_names(s.walls)),
                camera_seat_id=s.camera_seat_id if state != "unmapped" else None,
                camera_label=cam_label if cam_label != (s.label or s.kiosk_seat_id) else "", state=state, icon=icon,
                state_name=state_name, since=since, timer=timer, note=note, kiosk=kiosk,
                kiosk_icon=KIOSK_ICONS.get(kiosk, ""), kiosk_text=t(f"kiosk.state.{kiosk}") if kiosk != "none" else "",
                remaining=remaining, product=t(f"kiosk.product.{s.product}") if s.product else "",
                alerts=tuple(sorted(set(alerts.get(s.camera_seat_id or "", ())))),
            ))
        sections.append(FloorSection(name, max(c.grid_row for c in cells), max(c.grid_col for c in cells), cells))
    return FloorPlan(sections, badge, mapped, total)
