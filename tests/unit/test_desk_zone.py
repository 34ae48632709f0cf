"""The desk zone of a seat: layout validation (edge and hub share it), derivation, config
checks, and the fast assignment paths agreeing with exact geometry (issue 12)."""

from __future__ import annotations

import random

import msgspec
import numpy as np
import pytest

from edge_agent.seats.assign import SeatIndex, _Zones, desk_zone, match_seats, person_score
from edge_agent.seats.geometry import derive_desk, polygon_area
from edge_agent.settings import ConfigError, SeatsSection, parse_config
from edge_agent.types import Detection
from hub.stores.config_push import ConfigIn, validate_seat_layout
from protocol.codec import decode, encode
from protocol.layout import LayoutError, layout_problems
from protocol.messages import Config, SeatDef

RECT = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.5), (0.1, 0.5)]


def test_desk_is_validated_like_the_polygon_and_named():
    ok = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=[(0.1, 0.1), (0.4, 0.1), (0.4, 0.3)])
    assert layout_problems([ok]) == []
    cases = [
        ([(0.1, 0.1), (0.2, 0.1)], "seat 'A': desk needs at least 3 points, got 2"),
        ([(0.1, 0.1), (1.5, 0.1), (0.3, 0.3)], "seat 'A': desk point 1 (1.5, 0.1) is outside 0..1"),
        ([(0.1, 0.1), (0.4, 0.4), (0.4, 0.1), (0.1, 0.4)], "seat 'A': desk edges 0 and 2 cross or touch"),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "seat 'A': desk has no area"),
    ]
    for desk, msg in cases:
        bad = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=desk)
        assert any(msg in p for p in layout_problems([bad])), (desk, layout_problems([bad]))
        with pytest.raises(LayoutError, match="desk"):  # the hub refuses to push it
            validate_seat_layout([bad])


def test_hub_accepts_stores_and_forwards_the_desk():
    body = msgspec.json.decode(
        b'{"seats": [{"seat_id": "A", "channel": 1, "polygon": [[0.1,0.1],[0.4,0.1],[0.4,0.5]],'
        b' "desk": [[0.1,0.1],[0.4,0.1],[0.3,0.3]]}], "base_version": 0}', type=ConfigIn)
    validate_seat_layout(body.seats)
    stored = msgspec.to_builtins(body.seats)  # what ConfigRow.seats keeps
    assert [list(p) for p in stored[0]["desk"]] == [[0.1, 0.1], [0.4, 0.1], [0.3, 0.3]]
    msg = Config(store_id="s", edge_id="e", ts=1.0, version=2, seats=msgspec.convert(stored, list[SeatDef]))
    back = decode(encode(msg))
    assert back.seats[0].desk == [(0.1, 0.1), (0.4, 0.1), (0.3, 0.3)]
    # An old message without the field still decodes (additive): desk None = derived.
    assert msgspec.convert({"seat_id": "A", "channel": 1, "polygon": RECT}, SeatDef).desk is None


def test_edge_config_checks_desk_band_quiet_time_and_tiles():
    base = {"edge": {"store_id": "s1"}, "channels": [{"id": 1, "url": "x"}]}
    parse_config({**base, "seat_rules": {"desk_band": [0.5, 1.0], "reference_quiet_time": "04:30"},
                  "model": {"tiles": [3, 2]}})
    for extra, msg in [
        ({"seat_rules": {"desk_band": [0.6, 0.4]}}, "desk_band must be"),
        ({"seat_rules": {"reference_quiet_time": "25:00"}}, "reference_quiet_time must be"),
        ({"seat_rules": {"reference_quiet_time": "4h"}}, "reference_quiet_time must be"),
        ({"model": {"tiles": [0, 2]}}, "tiles must be"),
        ({"model": {"tile_overlap": 0.95}}, "tile_overlap"),
        ({"seats": [{"seat_id": "a", "channel": 1, "polygon": RECT, "desk": [[0, 0], [2, 0], [1, 1]]}]},
         "seat 'a': desk point 1"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            parse_config({**base, **extra}, "edge.toml")


def test_derived_desk_is_the_upper_band_of_the_seat():
    def pts(poly):
        return [v for p in sorted(poly) for v in p]

    assert pts(derive_desk(RECT, [0.0, 0.5])) == pytest.approx(pts([(0.1, 0.1), (0.4, 0.1), (0.4, 0.3), (0.1, 0.3)]))
    skew = [(0.2, 0.1), (0.5, 0.1), (0.4, 0.5), (0.1, 0.5)]  # a parallelogram: half the height, half the area
    d = derive_desk(skew, [0.0, 0.5])
    assert len(d) == 4 and polygon_area(d) == pytest.approx(polygon_area(skew) / 2, abs=1e-12)
    assert pts(derive_desk(skew, [0.0, 1.0])) == pytest.approx(pts(skew))
    lower = derive_desk(RECT, [0.5, 1.0])
    assert min(y for _, y in lower) == pytest.approx(0.3) and max(y for _, y in lower) == pytest.approx(0.5)
    s = SeatDef(seat_id="A", channel=1, polygon=RECT)
    assert desk_zone(s, SeatsSection(desk_band=[0.5, 1.0])) == lower
    drawn = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=[(0.5, 0.5), (0.6, 0.5), (0.6, 0.6)])
    assert desk_zone(drawn, SeatsSection()) == [(0.5, 0.5), (0.6, 0.5), (0.6, 0.6)]


def test_item_on_a_drawn_desk_outside_the_seat_polygon_counts():
    seat = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=[(0.4, 0.1), (0.6, 0.1), (0.6, 0.3), (0.4, 0.3)])
    book = Detection("item", "book", 0.6, (0.45, 0.15, 0.55, 0.25))
    m = match_seats([seat], [book], SeatsSection())
    assert m["A"].items == (book,)
    assert SeatIndex([seat], SeatsSection()).desks_inside is False
    assert SeatIndex([SeatDef(seat_id="B", channel=1, polygon=RECT)], SeatsSection()).desks_inside is True


def _random_poly(r: random.Random):
    if r.random() < 0.4:
        x, y = r.uniform(0, 0.7), r.uniform(0, 0.7)
        return [(x, y), (x + 0.2, y), (x + 0.2, y + 0.25), (x, y + 0.25)]
    x, y, s = r.uniform(0, 0.6), r.uniform(0, 0.6), r.uniform(0, 0.08)
    return [(x + s, y), (x + 0.25, y + s / 2), (x + 0.25 - s, y + 0.3), (x, y + 0.28)]


def test_numpy_and_small_paths_agree_with_exact_clipping(monkeypatch):
    import edge_agent.seats.assign as assign

    monkeypatch.setattr(assign, "_SMALL", 0)  # always the numpy path for ``shares``
    r = random.Random(3)
    for _ in range(30):
        polys = [_random_poly(r) for _ in range(r.randint(1, 30))]
        z = _Zones(polys)
        boxes = np.array([[x, y, x + r.uniform(0.01, 0.3), y + r.uniform(0.01, 0.4)]
                          for x, y in ((r.uniform(0, 0.9), r.uniform(0, 0.9)) for _ in range(r.randint(1, 25)))])
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        big = z.shares(boxes, areas)
        small = z._shares_small(boxes, areas, (0, 0))
        monkeypatch.setattr(assign, "_MANY", 0)  # its exact areas in numpy, too
        small_np = z._shares_small(boxes, areas, (0, 0))
        monkeypatch.setattr(assign, "_MANY", 10**6)
        want = np.array([[person_score(tuple(b), p, 1.0) for p in polys] for b in boxes])
        np.testing.assert_allclose(small, want, atol=1e-12)
        np.testing.assert_allclose(small_np, want, atol=1e-12)
        np.testing.assert_allclose(big, want, atol=1e-12)


def test_confidence_follows_the_evidence():
    from edge_agent.seats.assign import evidence_confidence as conf

    r = SeatsSection()  # person_overlap_min 0.25, change_threshold 0.12
    strong, weak = conf(0.9, 0.8, False, 0.0, 0.0, r), conf(0.26, 0.35, False, 0.0, 0.0, r)
    assert 0.7 < strong <= 1.0 and 0.05 <= weak < 0.25 and strong > weak
    assert conf(0.9, 0.8, True, 0.0, 0.0, r) < strong  # held: not seen this sample
    assert conf(0.0, 0.0, False, 0.0, 0.30, r) == 1.0  # clear desk change, nobody
    assert 0.4 < conf(0.0, 0.0, False, 0.0, 0.13, r) < 0.6  # just over the threshold
    assert conf(0.0, 0.0, False, 0.7, None, r) == pytest.approx(0.7)  # a detected item
    assert conf(0.0, 0.0, False, 0.0, 0.0, r) == 1.0  # nothing, desk as its reference
    assert conf(0.0, 0.0, False, 0.0, None, r) == 0.5  # nothing, but no reference yet
    assert conf(0.1, 0.9, False, 0.0, 0.0, r) < 1.0  # someone almost there lowers "nothing"


def test_a_new_desk_zone_drops_the_reference_and_the_engine_uses_it():
    from edge_agent.seats.engine import SeatEngine
    from edge_agent.types import Frame
    from protocol.messages import StateRules

    img = np.random.default_rng(0).integers(0, 255, (72, 128, 3)).astype(np.uint8)
    a = SeatDef(seat_id="A", channel=1, polygon=RECT)
    eng = SeatEngine([a], StateRules(), SeatsSection())
    assert eng.desk_zone("A") == desk_zone(a, SeatsSection())
    eng.capture_reference(1, Frame(1, img, 1.0))
    ref = eng.reference("A")
    eng.replace_layout([a])
    assert eng.reference("A") is ref  # same zones: kept
    drawn = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=[(0.1, 0.1), (0.4, 0.1), (0.4, 0.2), (0.1, 0.2)])
    eng.replace_layout([drawn])
    assert eng.reference("A") is not ref and not eng.reference("A").ready
    assert eng.desk_zone("A") == [(0.1, 0.1), (0.4, 0.1), (0.4, 0.2), (0.1, 0.2)]
    eng.capture_reference(1, Frame(1, img, 2.0))
    ref2 = eng.reference("A")
    eng.replace_layout([drawn], seat_rules=SeatsSection(desk_band=[0.5, 1.0]))  # drawn desk: band unused
    assert eng.reference("A") is ref2
    eng.replace_layout([a], seat_rules=SeatsSection(desk_band=[0.5, 1.0]))  # derived desk moved
    assert not eng.reference("A").ready


def test_batched_channels_give_the_same_evidence_and_states_as_one_by_one():
    """SeatEngine.observe_many (one numpy pass and one greedy over all channels) against
    observe per channel, on random skewed and rectangular seats, persons and items."""
    from edge_agent.seats.engine import SeatEngine
    from edge_agent.types import Frame, FrameDetections
    from protocol.messages import StateRules

    r = random.Random(5)

    def cell(i):  # seats on a 4 x 2 grid, skewed or not, not overlapping (no rounding ties)
        x, y, s = 0.02 + (i % 4) * 0.245, 0.05 + (i // 4) * 0.47, r.choice([0.0, r.uniform(0.0, 0.05)])
        return [(x + s, y), (x + 0.22, y + s / 2), (x + 0.22 - s, y + 0.42), (x, y + 0.42 - s / 2)]

    seats = [SeatDef(seat_id=f"c{ch}s{i}", channel=ch, polygon=cell(i)) for ch in range(1, 6) for i in range(8)]
    rules, seat_rules = StateRules(enter_s=2.0, exit_s=4.0), SeatsSection(use_reference=False, still_person_threshold=0)
    one, many = SeatEngine(seats, rules, seat_rules), SeatEngine(seats, rules, seat_rules)
    img = np.zeros((8, 8, 3), np.uint8)
    for k in range(60):
        t = k * 2.0
        batch = []
        for ch in range(1, 6):
            dets = []
            for _ in range(r.randint(0, 6)):
                x, y = r.uniform(0, 0.8), r.uniform(0, 0.7)
                dets.append(Detection("person", "person", round(r.uniform(0.3, 0.9), 1), (x, y, x + 0.12, y + 0.3)))
            for _ in range(r.randint(0, 3)):
                x, y = r.uniform(0, 0.9), r.uniform(0, 0.9)
                dets.append(Detection("item", "book", 0.5, (x, y, x + 0.05, y + 0.04)))
            frame = None if (k + ch) % 17 == 0 else Frame(ch, img, t)
            batch.append((ch, frame, FrameDetections(ch, t, dets), t))
        trs_one = [tr for ch, f, d, tt in batch for tr in one.observe(ch, f, d, tt)]
        trs_many = many.observe_many(batch)
        assert sorted((x.seat_id, x.to_state) for x in trs_one) == sorted((x.seat_id, x.to_state) for x in trs_many)
        for s in seats:  # overlaps agree up to rounding (Python clipping vs the numpy formula)
            a, b = one.last_evidence(s.seat_id), many.last_evidence(s.seat_id)
            if a is None or b is None:
                assert a is b, (k, s.seat_id)
                continue
            assert a.person_overlap == pytest.approx(b.person_overlap, abs=1e-12), (k, s.seat_id)
            assert msgspec.structs.replace(a, person_overlap=0.0) == msgspec.structs.replace(b, person_overlap=0.0)
    assert one.snapshots() == many.snapshots()


def test_install_rerun_keeps_drawn_desks():
    import tomllib

    from edge_agent.commands.install import render_seats

    seats = [SeatDef(seat_id="a", channel=1, polygon=RECT, desk=[(0.1, 0.1), (0.4, 0.1), (0.4, 0.25)]),
             SeatDef(seat_id="b", channel=1, polygon=RECT)]
    back = msgspec.convert(tomllib.loads(render_seats(seats))["seats"], list[SeatDef])
    assert back[0].desk == [(0.1, 0.1), (0.4, 0.1), (0.4, 0.25)] and back[1].desk is None


def test_snapshot_draws_the_desk_zone():
    from edge_agent.commands.snapshot import draw

    img = np.zeros((100, 200, 3), np.uint8)
    drawn = SeatDef(seat_id="A", channel=1, polygon=RECT, desk=[(0.6, 0.6), (0.9, 0.6), (0.9, 0.9), (0.6, 0.9)])
    out = draw(img, [drawn], {"A": "empty"}, None)
    assert (out[60, 150] >= 200).all()  # the desk outline (outside the seat polygon here) is white
    derived = draw(img, [SeatDef(seat_id="B", channel=1, polygon=RECT)], {}, None)
    assert (derived[30, 50] >= 200).all()  # the derived desk's lower edge: y = 0.3 of 100 px
