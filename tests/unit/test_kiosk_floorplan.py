"""The floor-plan view model (hub.kiosk.floorplan): grid positions per section, walls, camera and
kiosk states side by side, unknown kiosk, seats without a camera, alert marks."""

from __future__ import annotations

from hub.kiosk.floorplan import FloorSeatIn, build_floor, kiosk_badge
from hub.kiosk.model import WALL_BITS
from ui.i18n import Translator
from ui.messages_hub import MESSAGES

NOW = 1_800_000_000.0
T = Translator(MESSAGES, "ko")
EN = Translator(MESSAGES, "en")


def seat(kid, section, row, col, cam=None, state="free", remaining=None, walls=0, product="daily"):
    return FloorSeatIn(kid, section, row, col, kid, product, walls, cam, state, remaining)


def test_grid_sections_walls_states_and_marks():
    seats = [seat("A-3-5", "A", 3, 5, "a01", "in_use", 5400, WALL_BITS["top"] | WALL_BITS["left"]),
             seat("A-4-7", "A", 4, 7, None, "sold", 60),
             seat("B-1-1", "B", 1, 1, "b01", "free"),
             seat("M-C-2-2", "C", 2, 2, "c01", None, product="")]
    camera = {"a01": ("empty", NOW - 600, "A-01"), "b01": ("occupied", NOW - 30, "B-01"), "c01": ("away", None, "C-01")}
    fp = build_floor(seats, camera, {"a01": ["kiosk_hogging"]}, True, NOW, T, kiosk_badge(True, None, NOW - 3, None, NOW, T, str))
    assert [s.name for s in fp.sections] == ["A", "B", "C"]
    a = fp.sections[0]
    assert (a.rows, a.cols) == (2, 3)  # rows 3..4, cols 5..7, placed from 1
    c1, c2 = a.cells
    assert (c1.grid_row, c1.grid_col, c1.walls) == (1, 1, "wall-top wall-left")
    assert (c1.state, c1.kiosk, c1.remaining, c1.alerts, c1.camera_label) == ("empty", "in_use", "1시간 30분",
                                                                              ("kiosk_hogging",), "A-01")
    assert c1.timer == "빈 지 10분" and c1.kiosk_text == "이용 중"
    assert (c2.grid_row, c2.grid_col, c2.state, c2.camera_seat_id, c2.kiosk, c2.remaining) == (
        2, 3, "unmapped", None, "sold", "1분")
    b = fp.sections[1].cells[0]
    assert (b.state, b.kiosk, b.remaining) == ("occupied", "free", "")  # no remaining time on a free seat
    m = fp.sections[2].cells[0]
    assert (m.kiosk, m.kiosk_text, m.state, m.timer) == ("none", "", "away", "")  # placed by hand: no kiosk mark
    assert (fp.mapped, fp.seats) == (3, 4)
    assert fp.badge.status == "ok" and "3초 전" in fp.badge.text


def test_unknown_kiosk_marks_every_kiosk_seat_unknown_and_says_since_when():
    seats = [seat("A-1-1", "A", 1, 1, "a01", "in_use", 100), seat("M-A-1-2", "A", 1, 2, "a02", None)]
    badge = kiosk_badge(True, NOW - 300, NOW - 400, "GoSca answered HTTP 503", NOW, EN, lambda ts: "09:55")
    fp = build_floor(seats, {"a01": ("occupied", NOW, "A-01"), "a02": ("empty", NOW, "A-02")}, {}, False, NOW, EN, badge)
    k, m = fp.sections[0].cells
    assert (k.kiosk, k.kiosk_text, k.remaining, m.kiosk) == ("unknown", "kiosk unknown", "", "none")
    assert badge.status == "unknown" and badge.text == "Kiosk state unknown since 09:55 (5 min): GoSca answered HTTP 503"
    assert kiosk_badge(False, None, None, None, NOW, T, str).status == "none"


def test_unknown_camera_state_names_are_shown_as_unknown():
    fp = build_floor([seat("A-1-1", "A", 1, 1, "a01")], {"a01": ("weird", NOW, "A-01")}, {}, True, NOW, T,
                     kiosk_badge(False, None, None, None, NOW, T, str))
    assert fp.sections[0].cells[0].state == "unknown"


def test_floor_cell_says_the_time_before_a_restart_is_unknown():
    """Issue 19 point 8: the floor plan (the store page's first tab) tells a timer that restarted
    with the store box, like the seat map and the seat list."""
    seats = [FloorSeatIn("k1", "A", 1, 1, "A-01", "", 0, "a01", None, None),
             FloorSeatIn("k2", "A", 1, 2, "A-02", "", 0, "a02", None, None)]
    camera = {"a01": ("empty", NOW - 180, "A-01", True), "a02": ("empty", NOW - 180, "A-02")}
    fp = build_floor(seats, camera, {}, True, NOW, T, kiosk_badge(False, None, None, None, NOW, T, str))
    a1, a2 = fp.sections[0].cells
    assert a1.note == "재시작 전 시간 알 수 없음" and a1.timer == "빈 지 3분"
    assert a2.note == ""
