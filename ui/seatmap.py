"""The seat map both tiers draw (hub store page, edge fallback page): one pure view builder and
the strings it needs, so ``ui/templates/shared/seat_map.html`` renders the same from either.

A state is shown by colour AND by a pattern, an icon and its name (the legend says which), so
it reads on a colour-blind person's screen, on a faded wall display and in a grey print.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol import SEAT_STATES
from ui.i18n import Translator, format_duration

MAP_W, MAP_H = 1600, 900  # SVG user units; polygons are normalised 0..1 (16:9 substream frames)
# One glyph per state, drawn inside the seat and in the legend (no colour needed to tell them apart).
ICONS: dict[str, str] = {"empty": "○", "occupied": "●", "away": "◐", "abandoned": "⚠", "unknown": "?"}



def template_globals() -> dict[str, object]:
    """What every Jinja environment that renders the shared seat templates gets (hub and edge):
    the wire's state list and these icons, so no template or script keeps its own copy."""
    return {"seat_states": SEAT_STATES, "seat_icons": ICONS}


MESSAGES: dict[str, dict[str, str]] = {
    # the ticking timer under a seat's label: what the duration means in this state
    "timer.empty": {"ko": "빈 지 {d}", "en": "vacant {d}"},
    "timer.occupied": {"ko": "사용 {d}째", "en": "occupied {d}"},
    "timer.away": {"ko": "비운 지 {d}", "en": "away {d}"},
    "timer.abandoned": {"ko": "방치 {d}", "en": "left {d}"},
    "timer.unknown": {"ko": "확인 불가 {d}", "en": "no view {d}"},
    # after a timer that started again at a restart of the store box (issue 19 point 8): the
    # seat was in this state before too, for how long nobody knows
    "timer.resumed": {"ko": "재시작 전 시간 알 수 없음", "en": "time before restart unknown"},
    "legend.title": {"ko": "범례", "en": "Legend"},
    "legend.empty": {"ko": "비어 있음, 바로 앉을 수 있음", "en": "free to take"},
    "legend.occupied": {"ko": "사람이 앉아 있음", "en": "someone is sitting"},
    "legend.away": {"ko": "짐만 있고 사람은 잠시 자리 비움", "en": "belongings, person briefly gone"},
    "legend.abandoned": {"ko": "짐만 오래 남아 있음 (확인 필요)", "en": "belongings left too long (check)"},
    "legend.unknown": {"ko": "카메라가 보지 못함 (빈자리 아님)", "en": "camera cannot see it (not empty)"},
    "map.channel": {"ko": "채널 {n}", "en": "Channel {n}"},
}


@dataclass(frozen=True)
class SeatCell:
    """One seat as drawn: SVG points in MAP_W x MAP_H units, its centre, and the state texts."""

    seat_id: str
    label: str
    channel: int
    state: str
    since: float | None
    points: str
    cx: float
    cy: float
    icon: str
    state_name: str
    timer: str
    font: int  # label size in map units: fits the seat's width, readable on a tablet
    fit: int = 0  # the width texts may take (map units): wider ones are squeezed (seatmap.js)
    timer_font: int = 0  # the timer's size: smaller than the label, and small enough to fit
    note: str = ""  # "time before restart unknown" when the timer restarted with the box, else ""


@dataclass(frozen=True)
class SeatInput:
    seat_id: str
    label: str
    channel: int
    state: str
    since: float | None
    polygon: Sequence[Sequence[float]]
    resumed: bool = False  # ``since`` is a restart of the store box, not the state's start


def timer_text(state: str, since: float | None, now: float, t: Translator) -> str:
    """'빈 지 5분' / 'vacant 5 min'; empty when the start is not known."""
    if since is None or not math.isfinite(since):
        return ""
    return t(f"timer.{state}", d=format_duration(now - since, t))


def resumed_note(resumed: bool, since: float | None, t: Translator) -> str:
    """What a page writes next to a timer that restarted with the box: the time before is not
    known (the seat map on a line of its own, seat lists in brackets after the timer)."""
    return t("timer.resumed") if resumed and since is not None and math.isfinite(since) else ""


def seat_cells(seats: Iterable[SeatInput], now: float, t: Translator) -> dict[int, list[SeatCell]]:
    """Seats grouped by channel (channels ascending, seats by label within a channel)."""
    out: dict[int, list[SeatCell]] = {}
    for s in seats:
        pts = list(s.polygon) or [(0.0, 0.0)]
        state = s.state if s.state in SEAT_STATES else "unknown"
        cx = sum(p[0] for p in pts) / len(pts) * MAP_W
        cy = sum(p[1] for p in pts) / len(pts) * MAP_H
        width = (max(p[0] for p in pts) - min(p[0] for p in pts)) * MAP_W
        timer = timer_text(state, s.since, now, t)
        font = int(min(64, max(24, width / 5)))
        out.setdefault(s.channel, []).append(SeatCell(
            seat_id=s.seat_id, label=s.label or s.seat_id, channel=s.channel, state=state, since=s.since,
            points=" ".join(f"{p[0] * MAP_W:.1f},{p[1] * MAP_H:.1f}" for p in pts),
            cx=round(cx, 1), cy=round(cy, 1), icon=ICONS[state], state_name=t(f"state.{state}"),
            timer=timer, font=font, fit=int(width * 0.9), note=resumed_note(s.resumed, s.since, t),
            # "occupied 57 s" must stay inside the box: ~0.6 em per character of DejaVu/Noto Sans
            timer_font=int(max(12, min(font * 0.75, width * 0.9 / (0.6 * max(len(timer), 1))))),
        ))
    for cells in out.values():
        cells.sort(key=lambda c: (c.label, c.seat_id))
    return dict(sorted(out.items()))


def js_strings(t: Translator) -> dict[str, str]:
    """What ``/static/shared/seatmap.js`` needs to re-label seats and keep timers ticking."""
    keys = [f"state.{s}" for s in SEAT_STATES] + [f"timer.{s}" for s in SEAT_STATES] + ["timer.resumed"]
    keys += ["dur.sec", "dur.min", "dur.hour", "dur.day"]
    return {k: t(k) for k in keys} | {f"icon.{s}": ICONS[s] for s in SEAT_STATES}
