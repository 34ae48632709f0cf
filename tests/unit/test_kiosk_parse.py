"""GoSca seat-list parsing, the generic JSON/CSV import and webhook signatures (pure)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.kiosk import generic, gosca
from hub.kiosk.fake_gosca import FAKE_NAMES, chair, demo_room
from hub.kiosk.health import Health, after_failure, after_ok, next_delay, unknown_since
from hub.kiosk.model import KioskError


def body(comps) -> bytes:
    return json.dumps({"components": comps}, ensure_ascii=False).encode()


def test_gosca_chairs_become_seats_with_state_product_remaining_and_walls():
    snap = gosca.parse_seatlist(body([
        {"celltype": "wall", "section": "A", "cell_row": 0, "cell_col": 0},
        chair("A", 1, 1, in_use=True, name="김민지", product="고정석 4주", remain="02:30", walls="tl"),
        chair("A", 1, 2, name="이서준", product="충전권 50시간", remain="10시간 5분"),
        chair("B", 3, 4, product="일일권", walls="br"),
    ]))
    by = {s.kiosk_seat_id: s for s in snap.seats}
    assert list(by) == ["A-1-1", "A-1-2", "B-3-4"]
    a11, a12, b34 = by["A-1-1"], by["A-1-2"], by["B-3-4"]
    assert (a11.state, a11.product, a11.remaining_s, a11.walls) == ("in_use", "fixed", 9000, 1 | 4)
    assert (a12.state, a12.product, a12.remaining_s) == ("sold", "prepaid", 10 * 3600 + 300)
    assert (b34.state, b34.product, b34.remaining_s, b34.walls) == ("free", "daily", None, 2 | 8)
    assert snap.problems == []


def test_gosca_output_holds_no_customer_name():
    snap = gosca.parse_seatlist(body(demo_room(100.0)))
    text = repr(snap)
    for name in FAKE_NAMES:
        assert name not in text


@pytest.mark.parametrize("raw, why", [
    (b"<html>login</html>", "not JSON"),
    (b'{"result": "ok"}', "no 'components'"),
    (b'[1, 2]', "no 'components'"),
    (b'{"components": "x"}', "no 'components'"),
])
def test_gosca_garbage_is_a_kiosk_error_saying_what(raw, why):
    with pytest.raises(KioskError, match=why):
        gosca.parse_seatlist(raw)


def test_gosca_one_bad_seat_is_reported_and_the_others_kept():
    bad = chair("A", 1, 2)
    bad["cell_row"] = "x"
    snap = gosca.parse_seatlist(body([chair("A", 1, 1), bad, chair("A", 1, 1), chair("", 1, 3)]))
    assert [s.kiosk_seat_id for s in snap.seats] == ["A-1-1"]
    assert len(snap.problems) == 3
    assert any("cell_row" in p for p in snap.problems) and any("twice" in p for p in snap.problems)


@pytest.mark.parametrize("text, seconds", [
    ("02:30", 9000), ("1:05:30", 3930), ("90", 5400), ("2시간 30분", 9000), ("3일", 259200), ("45분", 2700),
    ("", None), (None, None), ("soon", None), (15, 900),
])
def test_remaining_time_formats(text, seconds):
    assert gosca.parse_remaining(text) == seconds


@given(st.one_of(st.text(max_size=20), st.integers(-5, 10**6), st.none(), st.floats(allow_nan=False, allow_infinity=False,
                                                                                   min_value=-1e6, max_value=1e6)))
def test_remaining_time_never_raises_and_is_never_negative(v):
    r = gosca.parse_remaining(v)
    assert r is None or r >= 0


@given(st.lists(st.dictionaries(st.sampled_from(["celltype", "section", "cell_row", "cell_col", "cuseyn", "uname",
                                                  "prdname", "remaintimeval", "walltop"]),
                                st.one_of(st.text(max_size=5), st.integers(-3, 2000), st.none(), st.just("chair"))),
                max_size=15))
def test_gosca_parser_takes_any_component_list_without_crashing(comps):
    snap = gosca.parse_seatlist(body(comps))
    for s in snap.seats:
        assert 0 <= s.row < 1000 and 0 <= s.col < 1000 and s.state in ("free", "sold", "in_use")


def test_generic_json_and_csv_give_the_same_seats():
    j = generic.parse_json(json.dumps({"seats": [
        {"id": "A-1", "section": "A", "row": 1, "col": 1, "label": "1", "product": "daily", "state": "in_use",
         "remaining_min": 90, "walls": ["top", "left"], "name": "홍길동", "phone": "010-1234-5678"},
        {"id": "A-2", "section": "A", "row": 1, "col": 2, "state": "free"},
    ]}, ensure_ascii=False).encode())
    c = generic.parse_csv("id,section,row,col,label,product,state,remaining_min,walls,name\n"
                          "A-1,A,1,1,1,daily,in_use,90,top left,홍길동\nA-2,A,1,2,,,free,,,\n")
    assert j.seats == c.seats and j.problems == c.problems == []
    assert j.seats[0].remaining_s == 5400 and j.seats[0].walls == 1 | 4
    assert "홍길동" not in repr(j) and "010-1234" not in repr(j) and "홍길동" not in repr(c)


@pytest.mark.parametrize("row, problem", [
    ({"section": "A"}, "no id"),
    ({"id": "x", "state": "paid"}, "state 'paid'"),
    ({"id": "x", "row": "two"}, "row is 'two'"),
    ({"id": "x", "remaining_min": "inf"}, "remaining_min"),
    ({"id": "x", "walls": ["roof"]}, "walls"),
    ({"id": "x", "product": "vip"}, "product 'vip'"),
])
def test_generic_bad_rows_are_named_and_the_rest_imported(row, problem):
    snap = generic.parse_json(json.dumps({"seats": [row, {"id": "ok"}]}).encode())
    assert [s.kiosk_seat_id for s in snap.seats] == ["ok"]
    assert problem in snap.problems[0] and snap.problems[0].startswith("seat 1")


def test_generic_rejects_files_that_are_no_seat_list():
    with pytest.raises(KioskError, match="seats"):
        generic.parse_json(b'{"rows": []}')
    with pytest.raises(KioskError, match="'id'"):
        generic.parse_csv("seat,state\n1,free\n")
    with pytest.raises(KioskError, match="UTF-8"):
        generic.parse_file("x.csv", "id\n가".encode("cp949"))


def test_webhook_signature_time_and_secret_checks():
    b = b'{"seats": []}'
    now = 1_800_000_000.0
    ts = str(int(now))
    sig = generic.sign("s3cret", ts, b)
    assert generic.verify("s3cret", ts, sig, b, now) == float(ts)
    with pytest.raises(generic.WebhookRefused, match="wrong signature"):
        generic.verify("s3cret", ts, sig, b + b" ", now)
    with pytest.raises(generic.WebhookRefused, match="wrong signature"):
        generic.verify("other", ts, sig, b, now)
    with pytest.raises(generic.WebhookRefused, match="away from the hub's clock"):
        generic.verify("s3cret", ts, sig, b, now + generic.WEBHOOK_SKEW_S + 1)
    with pytest.raises(generic.WebhookRefused, match="required"):
        generic.verify("s3cret", None, sig, b, now)
    with pytest.raises(generic.WebhookRefused, match="no webhook secret"):
        generic.verify("", ts, sig, b, now)
    with pytest.raises(generic.WebhookRefused, match="UNIX seconds"):
        generic.verify("s3cret", "yesterday", sig, b, now)
    assert generic.replay_key(sig) == generic.replay_key(sig + " ") != generic.replay_key(generic.sign("s3cret", ts, b"x"))


def test_backoff_grows_with_failures_is_capped_and_jittered():
    rnd = random.Random(7)
    healthy = [next_delay(30, 0, 600, rnd) for _ in range(200)]
    assert min(healthy) >= 27 and max(healthy) <= 33 and len(set(healthy)) > 100
    for n in range(1, 12):
        cap = min(600, 30 * 2**n)
        ds = [next_delay(30, n, 600, rnd) for _ in range(100)]
        assert cap / 2 <= min(ds) and max(ds) <= cap
        assert max(ds) - min(ds) > cap * 0.2  # jitter spreads the retries
    assert next_delay(30, 10**6, 600, rnd) <= 600


def test_health_unknown_since_first_failure_until_recovery_and_when_stale():
    h = Health("gosca")
    assert unknown_since(None, 100, 60) == 100  # never read: unknown
    h = after_ok(h, 100, 12.0, 14)
    assert unknown_since(h, 130, 60) is None
    assert unknown_since(h, 200, 60) == 160  # stale: the last read is too old
    h = after_failure(h, 210, "GoSca answered HTTP 503")
    h = after_failure(h, 240, "GoSca did not answer within 5 s")
    assert (h.failures, unknown_since(h, 250, 60), h.last_error) == (2, 210, "GoSca did not answer within 5 s")
    h = after_ok(h, 300, 10.0, 14)
    assert (h.failures, unknown_since(h, 301, 60), h.last_error) == (0, None, None)
