"""Fuzzing every decoder that reads what crosses the wire (hypothesis): random bytes, random
MessagePack/JSON structures shaped like our messages, deep nesting, oversized payloads, topics
with '/', '+', '#' and unicode in the ids, and seat layouts with NaN, huge and self-crossing
polygons and thousands of seats. The only acceptable failure is the decoder's own error type;
anything else would be a crash of the consumer (the hub's writer task, the edge's MQTT thread).
"""

from __future__ import annotations

import asyncio
import math
import time

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.seats.config_apply import evaluate_config
from hub.db.migrate import upgrade_async
from hub.db.session import make_engine, make_sessionmaker
from hub.ingest.parse import IngestError, RawMessage, parse_message
from hub.ingest.writer import IngestWriter
from hub.stores.config_push import validate_seat_layout
from protocol import (
    Config,
    ProtocolError,
    SeatDef,
    StateRules,
    TopicError,
    TopicSpace,
    decode,
    decode_json,
    validate_id,
)
from protocol.layout import LayoutError, layout_problems
from protocol.limits import message_problem

TOPICS = TopicSpace("seat/v1")
T0 = time.time()  # fixed, so that strategies do not depend on the clock (hypothesis replays them)
KINDS = ["birth", "delta", "event", "health", "death", "config_ack", "config", "snapshot_request", "nope", ""]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON/MessagePack-able values, nested
leaf = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats() | \
    st.text(max_size=20) | st.binary(max_size=20)
tree = st.recursive(leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                       max_size=4), max_leaves=30)
hostile_text = st.sampled_from(["", "a" * 300, "x\x00y", "+", "#", "a/b", "스토어", "\U0001f600", "A-01", "s0"]) | \
    st.text(max_size=80)


@st.composite
def message_like(draw) -> dict:
    """A dict with the fields of one of our messages, values drawn from anything at all."""
    kind = draw(st.sampled_from(KINDS))
    fields = ["v", "store_id", "edge_id", "boot_id", "seq", "ts", "seats", "states", "changes", "seat_id",
              "from_state", "to_state", "at", "evidence", "channels", "config_version", "version", "ok", "reason",
              "historical", "rules", "error"]
    anyint = st.integers(min_value=-(2**63), max_value=2**64 - 1)
    d = {k: draw(st.one_of(tree, hostile_text, anyint, st.floats(allow_nan=True)))
         for k in draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))}
    d["kind"] = kind
    if draw(st.booleans()):
        d["v"] = 1
    return d


@FUZZ
@given(st.binary(max_size=512))
def test_decode_random_bytes(data):
    for fn in (decode, decode_json):
        try:
            fn(data)
        except ProtocolError:
            pass


@FUZZ
@given(message_like())
def test_decode_message_shaped_garbage(d):
    for blob, fn in ((msgspec.msgpack.encode(d), decode), (msgspec.json.encode(d), decode_json)):
        try:
            msg = fn(blob)
        except ProtocolError:
            continue
        message_problem(msg, time.time())  # the guard never raises either


@pytest.mark.parametrize("depth", [10, 1000, 100_000])
def test_deeply_nested_payloads(depth):
    d = {"kind": "delta", "v": 1, "store_id": "a", "edge_id": "b", "boot_id": "c", "seq": 1, "ts": 1.0,
         "changes": "PLACEHOLDER"}
    # built by hand: the encoders themselves refuse to nest this deep
    packed = msgspec.msgpack.encode(d).replace(b"\xabPLACEHOLDER", b"\x91" * depth + b"\x00")
    js = msgspec.json.encode(d).replace(b'"PLACEHOLDER"', b"[" * depth + b"0" + b"]" * depth)
    for blob, fn in ((packed, decode), (js, decode_json)):
        with pytest.raises(ProtocolError):
            fn(blob)
    with pytest.raises(IngestError):
        parse_message(RawMessage("seat/v1/a/b/delta", packed, time.time()), TOPICS)


def test_oversized_payload_is_refused_before_decoding():
    blob = msgspec.msgpack.encode({"kind": "delta", "pad": "x" * (2 << 20)})
    t0 = time.perf_counter()
    with pytest.raises(IngestError) as exc:
        parse_message(RawMessage("seat/v1/a/b/delta", blob, time.time()), TOPICS)
    assert exc.value.reason == "too_large" and time.perf_counter() - t0 < 0.1


@FUZZ
@given(st.lists(hostile_text, min_size=0, max_size=6), st.sampled_from(KINDS), st.binary(max_size=64))
def test_topic_injection(parts, kind, payload):
    """Ids with '/', '+', '#', unicode, empty levels: parse refuses with TopicError/IngestError."""
    topic = "/".join(["seat/v1", *parts, kind])
    try:
        t = TOPICS.parse(topic)
        validate_id(t.store_id)
    except TopicError:
        pass
    try:
        parse_message(RawMessage(topic, payload, time.time()), TOPICS)
    except IngestError:
        pass
    for bad in ("a/b", "+", "#", "스토어", "A", "", "a" * 64, "a\x00"):
        with pytest.raises(TopicError):
            TOPICS.topic(bad, "edge-1", "delta")


# --------------------------------------------------------------------------- the writer itself
def mostly(valid, hostile):
    """Valid three times in four: most messages reach the database, the rest probe one limit."""
    return st.one_of(valid, valid, valid, hostile)


@st.composite
def storable_shape(draw) -> RawMessage:
    """Messages that decode (right types) with values drawn to hit every column's limits."""
    kind = draw(st.sampled_from(["delta", "event", "health", "config_ack", "birth"]))
    now = T0
    big_int = mostly(st.integers(0, 1000), st.integers(min_value=-(2**63), max_value=2**64 - 1))
    num = mostly(st.floats(now - 1e6, now), st.floats(allow_nan=True, allow_infinity=True))
    sid = mostly(st.sampled_from(["s0", "s1", "s2"]), hostile_text)
    text = mostly(st.text(max_size=10), hostile_text)
    base = {"v": 1, "kind": kind, "store_id": "store-a", "edge_id": "edge-1",
            "boot_id": draw(mostly(st.just("boot-1"), hostile_text)), "seq": draw(big_int), "ts": draw(num)}
    snap = st.fixed_dictionaries({"seat_id": sid, "state": st.sampled_from(["empty", "occupied"]),
                                  "since": num})
    if kind == "delta":
        base["changes"] = draw(st.lists(snap, max_size=5))
    elif kind == "event":
        base |= {"seat_id": draw(sid), "from_state": "empty", "to_state": "occupied", "at": draw(num),
                 "evidence": {"item_classes": draw(st.lists(text, max_size=3)),
                              "item_count": draw(big_int), "person_conf": draw(num)}}
    elif kind == "health":
        base["channels"] = draw(st.lists(st.fixed_dictionaries(
            {"channel": big_int, "online": st.booleans(), "fps": num, "last_error": text | st.none()}),
            max_size=3))
        base["outbox_depth"] = draw(big_int)
    elif kind == "config_ack":
        base |= {"version": draw(big_int), "ok": draw(st.booleans()), "error": draw(text | st.none())}
    else:
        seat = st.fixed_dictionaries({"seat_id": sid, "channel": big_int,
                                      "polygon": st.lists(st.tuples(num, num), max_size=5),
                                      "label": text})
        base |= {"config_version": draw(big_int), "seats": draw(st.lists(seat, max_size=3)),
                 "states": draw(st.lists(snap, max_size=3))}
    return RawMessage(f"seat/v1/store-a/edge-1/{kind}", msgspec.msgpack.encode(base), time.time())


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(storable_shape(), min_size=1, max_size=8))
def test_writer_never_fails_a_batch_on_hostile_values(pg_url, raws):
    """On real PostgreSQL: whatever decodes is either stored or dropped with a reason; the
    batch never raises (a raise is what stalled ingest for every store before the guard)."""

    async def run() -> None:
        engine = make_engine(pg_url)
        try:
            w = IngestWriter(make_sessionmaker(engine), TOPICS)
            r = await w.write(raws)
            assert r.dropped == sum(r.rejected.get(k, 0) for k in r.rejected if k != "unknown_seat")
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def pg_url(pg_url):
    """The conftest's fresh database, migrated once for all the examples of a test."""
    async def migrate() -> None:
        engine = make_engine(pg_url)
        await upgrade_async(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return pg_url


# --------------------------------------------------------------------------- seat layouts
coord = st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=0, max_value=1)
polygon = st.lists(st.tuples(coord, coord), max_size=12)


@FUZZ
@given(st.lists(st.builds(SeatDef, seat_id=hostile_text, channel=st.integers(-5, 5), polygon=polygon),
                max_size=6), st.lists(st.integers(-5, 5), max_size=3))
def test_layout_checks_never_crash(seats, channels):
    problems = layout_problems(seats, channels)
    assert isinstance(problems, list)
    try:
        validate_seat_layout(seats, channels, StateRules())
    except LayoutError as exc:
        assert exc.problems
    cfg = Config(store_id="store-a", edge_id="edge-1", ts=time.time(), version=2, seats=seats)
    d = evaluate_config(1, cfg, channels, store_id="store-a", edge_id="edge-1")
    assert d.action in ("apply", "reject")
    if any(not math.isfinite(c) for s in seats for p in s.polygon for c in p):
        assert d.action == "reject"


def test_huge_polygon_and_thousands_of_seats_are_refused_fast():
    n = 50_000  # ~1 MB on the wire; the crossing check is quadratic (3000 points took 4 s)
    ring = [(0.5 + 0.4 * math.cos(2 * math.pi * i / n), 0.5 + 0.4 * math.sin(2 * math.pi * i / n))
            for i in range(n)]
    t0 = time.perf_counter()
    problems = layout_problems([SeatDef("a", 1, ring)])
    assert problems and "at most" in problems[0]
    many = [SeatDef(f"s{i}", 1, [(0.0, 0.0), (0.001, 0.0), (0.0, 0.001)]) for i in range(5000)]
    problems = layout_problems(many)
    assert problems == ["layout has 5000 seats, at most 1000 are allowed per edge"]
    assert time.perf_counter() - t0 < 1.0
    # A self-crossing "bow tie" and a NaN point are named with their seat.
    bow = SeatDef("bow", 1, [(0.1, 0.1), (0.3, 0.3), (0.3, 0.1), (0.1, 0.3)])
    nan = SeatDef("nan", 1, [(0.1, 0.1), (float("nan"), 0.2), (0.2, 0.3)])
    problems = layout_problems([bow, nan])
    assert any("'bow'" in p and "cross" in p for p in problems) and any("'nan'" in p for p in problems)
