"""Issue 19 point 8: a seat state carried over a restart of the store box is marked ``resumed``
(its timer starts at the restart; the time before is unknown) from the edge's tracker, through
the wire and the hub's reducer, to the live message and the seat map's text."""

from __future__ import annotations

import msgspec

from edge_agent.agent import resumed_states
from edge_agent.seats.engine import SeatEngine
from edge_agent.seats.rules import SeatRules
from edge_agent.seats.state_machine import SeatTracker
from edge_agent.storage.db import EdgeStore
from hub.ingest.reducer import Current, EdgeRow, StateRow, reduce_batch
from protocol import Birth, Delta, Evidence, SeatDef, SeatSnapshot, StateRules, decode, encode
from protocol.live import LiveSeat, Update, decode_live, encode_live
from protocol.wire import WireChange, layout_hash
from ui import seatmap
from ui.i18n import Translator
from ui.messages_edge import MESSAGES as EDGE_MESSAGES

NOW = 1_000_000.0
SEATS = [SeatDef(seat_id=s, channel=1, polygon=[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)]) for s in ("a1", "a2")]
BASE = {"store_id": "s1", "edge_id": "e1", "boot_id": "0" * 31 + "1"}
EMPTY = Evidence(person_overlap=0.0, item_count=0, change_score=0.0)
PERSON = Evidence(person_overlap=0.9, item_count=0, change_score=0.0)


def test_restored_seats_are_resumed_until_their_next_real_transition():
    eng = SeatEngine(SEATS, StateRules(), SeatRules(), now=NOW)
    eng.restore(resumed_states([SeatSnapshot("a1", "empty", 10.0), SeatSnapshot("a2", "occupied", 20.0)], NOW))
    snaps = {s.seat_id: s for s in eng.snapshots()}
    assert snaps["a1"].resumed and snaps["a1"].since == NOW
    # a person sits down: a real transition, its since is known
    tr = eng.tracker("a1")
    t = NOW
    while tr.state != "occupied":
        t += 1.0
        tr.update(t, PERSON)
    assert not tr.snapshot().resumed
    assert eng.tracker("a2").snapshot().resumed  # unchanged: still a lower bound


def test_a_camera_outage_brings_back_the_old_since_and_its_flag():
    tr = SeatTracker("a1", StateRules(), SeatRules())
    tr.restore("empty", NOW, resumed=True)
    tr.update(NOW + 1, None)  # no view
    assert tr.state == "unknown" and not tr.snapshot().resumed
    t = NOW + 1
    while tr.state != "empty":
        t += 1.0
        tr.update(t, EMPTY)
    assert tr.since == NOW and tr.snapshot().resumed  # the same stretch: still unknown before NOW


def test_the_flag_crosses_the_wire_and_costs_nothing_when_false():
    d = Delta(**BASE, seq=1, ts=NOW, changes=[SeatSnapshot("a1", "empty", NOW - 1.5, resumed=True),
                                              SeatSnapshot("a2", "empty", NOW - 2.0)])
    back = decode(encode(d))
    assert [c.resumed for c in back.changes] == [True, False]
    b = Birth(**BASE, seq=0, ts=NOW, config_version=1, layout_hash=layout_hash(SEATS), seats=SEATS,
              states=[SeatSnapshot("a1", "away", NOW, resumed=True)], channels=[], rules=StateRules())
    assert decode(encode(b)).states[0].resumed
    # False is left off the array: the common change is exactly as long as before the flag
    plain = Delta(**BASE, seq=1, ts=NOW, changes=[SeatSnapshot("a1", "empty", NOW - 1.5)])
    assert encode(plain).endswith(msgspec.msgpack.encode([["a1", 0, 1500]]) + b"\xc2")  # [.., changes, historical]

    class OldWireChange(msgspec.Struct, array_like=True):  # the previous release's hub
        seat_id: str
        state: int
        since: int | float

    old = msgspec.msgpack.decode(msgspec.msgpack.encode(WireChange("a1", 0, 1500, True)), type=OldWireChange)
    assert (old.seat_id, old.since) == ("a1", 1500)


def test_the_edge_store_keeps_the_flag(tmp_path):
    store = EdgeStore(tmp_path / "edge.sqlite")
    store.save_states([SeatSnapshot("a1", "empty", NOW, resumed=True), SeatSnapshot("a2", "occupied", NOW - 9)])
    assert [(s.seat_id, s.resumed) for s in store.load_states()] == [("a1", True), ("a2", False)]
    assert store.schema_version()[-1] == "0003_seat_state_resumed"


def _current(resumed: bool = False) -> Current:
    e = EdgeRow("s1", "e1", boot_id=BASE["boot_id"], last_seq=10, last_seen=NOW - 5, layout_hash=layout_hash(SEATS))
    row = StateRow("s1", "a1", "e1", "empty", NOW - 100, NOW - 100, NOW - 100, resumed)
    return Current(edges={("s1", "e1"): e}, states={("s1", "a1"): row}, known_seats={("s1", "a1"), ("s1", "a2")})


def test_the_hub_stores_the_flag_and_sends_it_to_the_page():
    d = Delta(**BASE, seq=11, ts=NOW, changes=[SeatSnapshot("a1", "empty", NOW - 1, resumed=True)])
    writes, result = reduce_batch([d], _current(), NOW)
    (row,) = writes.states
    assert row.resumed and row.since == NOW - 1
    assert result.live == [Update(store_id="s1", seats=[LiveSeat("a1", "empty", NOW - 1, resumed=True)])]
    assert b'"resumed":true' in encode_live(result.live[0])
    # the same state and since, now known (not resumed): a change the page must see
    d2 = Delta(**BASE, seq=11, ts=NOW, changes=[SeatSnapshot("a1", "empty", NOW - 100)])
    writes, result = reduce_batch([d2], _current(resumed=True), NOW)
    assert [r.resumed for r in writes.states] == [False] and result.seat_changes == 1
    # an update without the flag (the previous release) decodes as not resumed
    assert decode_live(b'{"type":"update","store_id":"s1","seats":[{"seat_id":"a1","state":"empty","since":1.0}]}'
                       ).seats[0].resumed is False


def test_the_seat_map_says_the_time_before_the_restart_is_unknown():
    for lang, note in (("ko", "재시작 전 시간 알 수 없음"), ("en", "time before restart unknown")):
        t = Translator(EDGE_MESSAGES, lang)
        cells = seatmap.seat_cells([
            seatmap.SeatInput("a1", "A1", 1, "empty", NOW - 180, [(0.1, 0.1), (0.3, 0.1), (0.3, 0.3)], resumed=True),
            seatmap.SeatInput("a2", "A2", 1, "empty", NOW - 180, [(0.5, 0.1), (0.7, 0.1), (0.7, 0.3)]),
        ], NOW, t)[1]
        assert [c.note for c in cells] == [note, ""]
        assert cells[0].timer == t("timer.empty", d=t("dur.min", m=3))
        assert seatmap.js_strings(t)["timer.resumed"] == note


def test_seat_edge_status_says_the_time_before_the_restart_is_unknown(tmp_path):
    from edge_agent.commands.status import render_status
    from edge_agent.settings import parse_config

    cfg = parse_config({"edge": {"store_id": "s1", "data_dir": str(tmp_path)}})
    store = EdgeStore(tmp_path / "edge.sqlite")
    store.save_states([SeatSnapshot("a1", "empty", NOW - 180, resumed=True), SeatSnapshot("a2", "occupied", NOW - 60)])
    store.close()
    lines = {ln.split()[0]: ln for ln in render_status(cfg, now=NOW).splitlines() if ln.startswith("  a")}
    assert lines["a1"].endswith("(time before the restart unknown)")
    assert "restart" not in lines["a2"]
