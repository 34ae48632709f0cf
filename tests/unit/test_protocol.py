"""Protocol: round trips (hypothesis), topic building/parsing, and one error type for bad input."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    SCHEMA_VERSION,
    Birth,
    ChannelHealth,
    Config,
    ConfigAck,
    Death,
    Delta,
    Event,
    Evidence,
    Health,
    ProtocolError,
    SeatDef,
    SeatSnapshot,
    SnapshotRequest,
    StateRules,
    TopicError,
    TopicSpace,
    decode,
    decode_json,
    encode,
    encode_json,
)

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
seat_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}", fullmatch=True)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
unit = st.floats(min_value=0, max_value=1, allow_nan=False)
states = st.sampled_from(["empty", "occupied", "away", "abandoned", "unknown"])
points = st.tuples(unit, unit)
seat_defs = st.builds(
    SeatDef, seat_id=seat_ids, channel=st.integers(1, 16), polygon=st.lists(points, min_size=3, max_size=8),
    label=st.text(max_size=10), type=st.sampled_from(["desk", "booth"]), active=st.booleans(),
)
snapshots = st.builds(SeatSnapshot, seat_id=seat_ids, state=states, since=times)
evidence = st.builds(
    Evidence, person_overlap=unit, person_conf=unit, item_count=st.integers(0, 20),
    item_classes=st.lists(st.sampled_from(["laptop", "book", "cup"]), max_size=3),
    change_score=st.none() | unit,
)
edge_common = dict(store_id=ids, edge_id=ids, boot_id=st.uuids().map(str), seq=st.integers(0, 2**53), ts=times)
health = st.builds(
    ChannelHealth, channel=st.integers(1, 16), online=st.booleans(), fps=unit,
    last_frame_age_s=st.none() | times, reconnects=st.integers(0, 1000), last_error=st.none() | st.text(max_size=20),
    drift=st.none() | unit, camera_moved=st.booleans(),
)

messages = st.one_of(
    st.builds(Birth, **edge_common, config_version=st.integers(0, 1000), seats=st.lists(seat_defs, max_size=4),
              states=st.lists(snapshots, max_size=4)),
    st.builds(Delta, **edge_common, changes=st.lists(snapshots, max_size=5), historical=st.booleans()),
    st.builds(Event, **edge_common, seat_id=seat_ids, from_state=states, to_state=states, at=times,
              evidence=evidence, historical=st.booleans()),
    st.builds(Health, **edge_common, channels=st.lists(health, max_size=3), outbox_depth=st.integers(0, 10**6)),
    st.builds(Death, **edge_common, reason=st.sampled_from(["lost", "shutdown"])),
    st.builds(ConfigAck, **edge_common, version=st.integers(0, 10**6), ok=st.booleans(),
              error=st.none() | st.text(max_size=30)),
    st.builds(Config, store_id=ids, edge_id=ids, ts=times, version=st.integers(0, 10**6),
              seats=st.lists(seat_defs, max_size=3), rules=st.builds(StateRules)),
    st.builds(SnapshotRequest, store_id=ids, edge_id=ids, ts=times, reason=st.text(max_size=10)),
)


@given(messages)
@settings(max_examples=300)
def test_msgpack_round_trip(msg):
    assert decode(encode(msg)) == msg


@given(messages)
@settings(max_examples=100)
def test_json_round_trip(msg):
    assert decode_json(encode_json(msg)) == msg


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_random_bytes_raise_protocol_error_only(data):
    try:
        decode(data)
    except ProtocolError:
        pass


def test_other_schema_version_is_rejected():
    msg = Death(store_id="s1", edge_id="e1", boot_id="b", seq=1, ts=1.0, v=SCHEMA_VERSION + 1)
    with pytest.raises(ProtocolError, match="schema version"):
        decode(encode(msg))


def test_foreign_payloads_raise_protocol_error():
    for payload in (b"", b"hello", msgspec.msgpack.encode({"kind": "pizza"}), msgspec.msgpack.encode([1, 2]),
                    msgspec.msgpack.encode({"kind": "delta", "store_id": "s"})):
        with pytest.raises(ProtocolError):
            decode(payload)


def test_expect_restricts_kinds():
    msg = Death(store_id="s1", edge_id="e1", boot_id="b", seq=1, ts=1.0)
    with pytest.raises(ProtocolError, match="unexpected"):
        decode(encode(msg), expect=Config)
    assert decode(encode(msg), expect=(Death, Birth)) == msg


@given(ids, ids, st.sampled_from(["birth", "delta", "event", "health", "death", "config_ack", "config",
                                   "snapshot_request"]))
def test_topic_round_trip(store, edge, kind):
    space = TopicSpace()
    t = space.parse(space.topic(store, edge, kind))
    assert (t.store_id, t.edge_id, t.kind) == (store, edge, kind)


@pytest.mark.parametrize("bad", ["", "Oryu", "a/b", "+", "#", "a b", "x" * 64, "-lead", "é"])
def test_bad_ids_are_rejected(bad):
    with pytest.raises(TopicError):
        TopicSpace().topic(bad, "edge1", "delta")
    with pytest.raises(TopicError):
        TopicSpace().topic("store", bad, "delta")


@pytest.mark.parametrize("topic", [
    "seat/v1/s/e", "seat/v1/s/e/delta/extra", "other/v1/s/e/delta", "seat/v1/S/e/delta",
    "seat/v1/s/e/pizza", "seat/v1/+/e/delta", "seat/v2/s/e/delta",
])
def test_bad_topics_are_rejected(topic):
    with pytest.raises(TopicError):
        TopicSpace().parse(topic)


def test_custom_prefix_and_filters():
    space = TopicSpace("test-ab12/seat/v1")
    assert space.topic("oryudong", "edge1", "delta") == "test-ab12/seat/v1/oryudong/edge1/delta"
    assert space.edge_filter() == "test-ab12/seat/v1/+/+/+"
    assert space.shared_edge_filter("g") == "$share/g/test-ab12/seat/v1/+/+/+"
    with pytest.raises(TopicError):
        TopicSpace("bad/+/prefix")


def test_live_topics_stay_outside_the_edge_tree():
    space = TopicSpace("seat/v1")
    assert space.live_topic("oryudong") == "seat/v1-live/oryudong"
    assert space.parse_live("seat/v1-live/oryudong") == "oryudong"
    with pytest.raises(TopicError):
        space.parse("seat/v1-live/oryudong")  # never taken for an edge message
    with pytest.raises(TopicError):
        space.parse_live("seat/v1/oryudong/edge1/delta")
    with pytest.raises(TopicError):
        space.live_topic("Bad Store")


def test_compact_wire_is_lossless_and_small():
    import uuid

    from protocol.wire import quantise_ms

    now = 1_764_000_000.123456
    d = Delta(store_id="oryudong", edge_id="edge1", boot_id=uuid.uuid4().hex, seq=9, ts=now,
              changes=[SeatSnapshot("A-001", "away", quantise_ms(now - 2.5)), SeatSnapshot("A-002", "empty", now)])
    assert decode(encode(d)) == d  # ms times as integers, the other as a float: both exact
    one = len(encode(msgspec.structs.replace(d, changes=d.changes[:1])))
    assert len(encode(d)) - one < len(encode_json(d)) - len(encode_json(msgspec.structs.replace(d, changes=d.changes[:1])))
    assert encode(d)[0] & 0xF0 == 0x90  # an array, not a map
    assert b"changes" in encode_json(d)  # JSON stays readable


def test_compact_wire_bad_state_code_is_a_protocol_error():
    from protocol.wire import WireChange, WireDelta

    bad = msgspec.msgpack.encode(WireDelta(SCHEMA_VERSION, "s", "e", "b", 1, 1.0, [WireChange("A", 9, 0)]))
    with pytest.raises(ProtocolError, match="state code"):
        decode(bad)
    old = msgspec.msgpack.encode(WireDelta(SCHEMA_VERSION - 1, "s", "e", "b", 1, 1.0, []))
    with pytest.raises(ProtocolError, match="schema version"):
        decode(old)


class _OldChannelHealth(msgspec.Struct, frozen=True):
    """ChannelHealth as edges before issue 17's drift field sent it (every field, no drift)."""

    channel: int
    online: bool
    fps: float = 0.0
    last_frame_age_s: float | None = None
    latency_ms: float | None = None
    reconnects: int = 0
    last_error: str | None = None


class _OldHealth(msgspec.Struct, tag_field="kind", tag="health", kw_only=True):
    v: int = SCHEMA_VERSION
    store_id: str
    edge_id: str
    boot_id: str
    seq: int
    ts: float
    channels: list[_OldChannelHealth]
    outbox_depth: int = 0
    outbox_dropped: int = 0
    uptime_s: float = 0.0


def test_channel_drift_round_trip_and_old_edges_and_hubs_understand_each_other():
    base = dict(store_id="s", edge_id="e", boot_id="b", seq=3, ts=1_764_000_000.0)
    moved = ChannelHealth(2, True, fps=1.0, drift=0.061, camera_moved=True)
    new = Health(**base, channels=[ChannelHealth(1, True, fps=1.0, drift=0.006), moved])
    assert decode(encode(new)) == new and decode_json(encode_json(new)) == new
    # an old edge's health (no drift field) decodes: not measured, not moved
    old = msgspec.msgpack.encode(_OldHealth(**base, channels=[_OldChannelHealth(1, True, fps=1.0, last_error="x")]))
    got = decode(old)
    assert isinstance(got, Health) and got.channels[0].drift is None and got.channels[0].camera_moved is False
    assert got.channels[0].last_error == "x"
    # an old hub (its ChannelHealth without the field) decodes a new edge's health, ignoring it
    seen = msgspec.msgpack.decode(encode(new), type=_OldHealth)
    assert [c.channel for c in seen.channels] == [1, 2] and seen.channels[1].fps == 1.0
    # small: a channel without drift costs no more than before the field existed
    plain = Health(**base, channels=[ChannelHealth(c, True, fps=1.0) for c in range(1, 17)])
    before = msgspec.msgpack.encode(_OldHealth(**base, channels=[_OldChannelHealth(c, True, fps=1.0) for c in range(1, 17)]))
    assert len(encode(plain)) <= len(before)
    with_drift = Health(**base, channels=[ChannelHealth(c, True, fps=1.0, drift=0.01) for c in range(1, 17)])
    assert len(encode(with_drift)) <= len(before)
