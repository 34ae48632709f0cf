"""vision/plan.py: per channel, crops around far seats or a tile grid, from the seats' size in
model input pixels (issue 17, 3.). Pure numbers; the model runs on the plan in
tests/integration/test_coco_backend.py and in `seat-edge evaluate`."""

from __future__ import annotations

import pytest

from edge_agent.vision.plan import MIN_SEAT_PX, plan_channel, seat_px
from protocol.messages import SeatDef


def seat(sid, x1, y1, x2, y2, channel=1):
    return SeatDef(seat_id=sid, channel=channel, polygon=[(x1, y1), (x2, y1), (x2, y2), (x1, y2)])


NEAR = seat("N", 0.1, 0.4, 0.4, 0.9)  # half the frame high
FAR = seat("F", 0.565, 0.17, 0.66, 0.36)  # c10's far desk: 137 px of 720


def test_seat_size_at_the_model_input():
    # 1280x720 letterboxed to 640: 0.19 * 720 * 0.5 = 68 px
    assert seat_px(FAR, 1280, 720, 640) == pytest.approx(0.19 * 720 * 0.5)
    # a 300x300 SSD squeezes the height to 300
    assert seat_px(FAR, 1280, 720, 300, letterbox=False) == pytest.approx(0.19 * 300)


def test_near_seats_need_nothing_more():
    p = plan_channel(1, [NEAR], 1280, 720, 640)
    assert p.how == "whole frame" and p.passes == 1 and p.windows == []
    assert "1 pass" in p.text()


def test_a_far_seat_gets_one_crop_where_it_is_small():
    p = plan_channel(1, [NEAR, FAR], 1280, 720, 300, letterbox=False)
    assert p.how == "crops" and p.far == ["F"] and p.passes == 2
    (x1, y1, x2, y2), = p.windows
    assert x1 <= 0.565 and x2 >= 0.66 and y1 <= 0.17 and y2 >= 0.36  # the seat is inside its crop
    assert 0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0
    assert p.smallest_px < MIN_SEAT_PX <= p.crop_px  # the crop makes it large enough
    assert (x2 - x1) * 1280 == pytest.approx((y2 - y1) * 720, rel=0.02)  # square in pixels
    # at 1280 px letterboxed the same seat is large enough: nothing more
    assert plan_channel(1, [NEAR, FAR], 1280, 720, 1280).how == "whole frame"


def test_neighbouring_far_seats_share_a_crop_and_many_take_the_grid():
    two = [seat("F1", 0.50, 0.10, 0.55, 0.20), seat("F2", 0.53, 0.11, 0.58, 0.21)]
    p = plan_channel(1, two, 1280, 720, 640)
    assert p.how == "crops" and len(p.windows) == 1 and sorted(p.far) == ["F1", "F2"]
    scattered = [seat(f"S{i}", 0.05 + 0.16 * i, 0.05 + 0.15 * (i % 2) * 4, 0.09 + 0.16 * i,
                      0.12 + 0.15 * (i % 2) * 4) for i in range(6)]
    g = plan_channel(1, scattered, 1280, 720, 640)
    assert g.how == "tiles" and g.passes == 7
    assert g.suggest_imgsz is not None and g.suggest_imgsz % 32 == 0 and g.suggest_imgsz > 640


def test_other_channels_and_inactive_seats_are_ignored():
    off = SeatDef(seat_id="X", channel=1, polygon=FAR.polygon, active=False)
    assert plan_channel(1, [NEAR, off, seat("Y", 0.5, 0.1, 0.55, 0.2, channel=2)], 1280, 720, 640).how == "whole frame"
    assert plan_channel(3, [NEAR], 1280, 720, 640).how == "whole frame"


def test_far_seats_apart_get_their_own_crops():
    # c10: the far desk and the sofa; one crop over both would make the far student small again
    sofa = seat("S", 0.17, 0.22, 0.34, 0.47)
    p = plan_channel(1, [FAR, sofa], 1280, 720, 640)
    assert p.how == "crops" and len(p.windows) == 2 and p.crop_px >= MIN_SEAT_PX
