"""Messages that decode but hold values the database cannot store, oversized deltas, phantom
seats, non-finite and absurd times: each is dropped alone with a specific reason (or ignored
seat by seat) and the rest of its batch is stored. Real PostgreSQL (its column limits are what
the bad values hit), the hub's real IngestWriter.
"""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, select

from hub.db.models import SeatEvent, SeatStateRow
from hub.ingest.parse import RawMessage
from protocol import (
    Birth,
    ChannelHealth,
    ConfigAck,
    Delta,
    Event,
    Evidence,
    Health,
    SeatDef,
    SeatSnapshot,
    TopicSpace,
    encode,
)

TOPICS = TopicSpace("seat/v1")


def square(x: float, y: float, w: float = 0.1) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + w), (x, y + w)]


class Edge:
    def __init__(self, store: str = "store-a", edge: str = "edge-1") -> None:
        self.store, self.edge, self.boot, self.seq = store, edge, uuid.uuid4().hex, 0

    def base(self, **kw):
        self.seq += 1
        d = {"store_id": self.store, "edge_id": self.edge, "boot_id": self.boot, "seq": self.seq, "ts": time.time()}
        d.update(kw)
        return d

    def raw(self, msg) -> RawMessage:
        kind = type(msg).__struct_config__.tag
        return RawMessage(TOPICS.topic(self.store, self.edge, kind), encode(msg), time.time())

    def birth(self, n: int = 3, **kw) -> RawMessage:
        now = time.time()
        seats = [SeatDef(seat_id=f"s{i}", channel=1, polygon=square(0.1 * i, 0.2)) for i in range(n)]
        return self.raw(Birth(**self.base(**kw), config_version=1, seats=seats,
                              states=[SeatSnapshot(s.seat_id, "empty", now) for s in seats]))

    def delta(self, changes: dict[str, str], since: float | None = None, **kw) -> RawMessage:
        since = time.time() if since is None else since
        return self.raw(Delta(**self.base(**kw), changes=[SeatSnapshot(k, v, since) for k, v in changes.items()]))

    def event(self, seat: str, to: str = "occupied", at: float | None = None, **kw) -> RawMessage:
        return self.raw(Event(**self.base(**kw), seat_id=seat, from_state="empty", to_state=to,
                              at=time.time() if at is None else at))


async def states(writer, store: str) -> dict[str, str]:
    async with writer.sessionmaker() as s:
        rows = (await s.execute(select(SeatStateRow).where(SeatStateRow.store_id == store))).scalars()
        return {r.seat_id: r.state for r in rows}


async def n_events(writer, store: str) -> int:
    async with writer.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(SeatEvent).where(
            SeatEvent.store_id == store))).scalar_one()


def _bad_messages(a: Edge) -> dict[str, RawMessage]:
    """One message per kind of unstorable value, all from store-a."""
    nul_evidence = Evidence(item_classes=["book\x00"])
    return {
        "long_boot_id": a.event("s0", boot_id="b" * 5000),
        "seq_past_bigint": a.event("s0", seq=2**63),
        "nul_in_seat_id": a.event("s0\x00x"),
        "nul_in_evidence": a.raw(Event(**a.base(), seat_id="s1", from_state="empty", to_state="occupied",
                                       at=time.time(), evidence=nul_evidence)),
        "channel_past_int": a.raw(Health(**a.base(), channels=[ChannelHealth(channel=2**40, online=True)])),
        "nul_in_last_error": a.raw(Health(**a.base(), channels=[ChannelHealth(1, False, last_error="x\x00")])),
        "version_past_int": a.raw(ConfigAck(**a.base(), version=2**40, ok=True)),
        "nan_at": a.event("s0", at=float("nan")),
        "inf_at": a.event("s0", at=float("inf")),
    }


@pytest.mark.parametrize("case", list(_bad_messages(Edge())))
async def test_unstorable_value_is_dropped_alone_and_the_batch_is_stored(writer, case):
    a, b = Edge("store-a"), Edge("store-b")
    await writer.write([a.birth(), b.birth()])
    bad = _bad_messages(a)[case]
    good = b.event("s1", at=time.time())
    result = await writer.write([bad, good])  # raised a database error for the whole batch before the fix
    assert result.dropped == 1 and result.written == 1
    assert sum(result.rejected.values()) == 1, result.rejected
    assert await n_events(writer, "store-b") == 1
    assert (await states(writer, "store-b"))["s1"] == "occupied"


async def test_oversized_delta_is_refused_and_unknown_seats_create_nothing(writer):
    a = Edge()
    await writer.write([a.birth(3)])
    # 9 MB: 200k phantom seat changes in one delta.
    huge = a.delta({f"phantom-{i}": "occupied" for i in range(200_000)})
    assert len(huge.payload) > 5_000_000
    t0 = time.perf_counter()
    r = await writer.write([huge, a.delta({"s0": "occupied"})])
    assert time.perf_counter() - t0 < 2.0
    assert r.dropped == 1 and r.rejected == {"too_large": 1}
    # Under the payload limit, but seats the layout does not know: nothing is created for them.
    r = await writer.write([a.delta({**{f"ghost-{i}": "occupied" for i in range(900)}, "s1": "away"})])
    assert r.rejected == {"unknown_seat": 900}
    r = await writer.write([a.event("ghost-x")])
    assert r.rejected == {"unknown_seat": 1}
    assert await states(writer, "store-a") == {"s0": "occupied", "s1": "away", "s2": "empty"}
    # A delta listing more seats than a message may carry is refused whole.
    r = await writer.write([a.delta({f"s{i % 3}-{i}": "occupied" for i in range(1001)})])
    assert r.rejected == {"too_many": 1}


async def test_absurd_timestamp_does_not_freeze_a_seat(writer):
    a = Edge()
    await writer.write([a.birth(2)])
    r = await writer.write([a.delta({"s0": "occupied"}, ts=1e300)])
    assert r.rejected == {"bad_time": 1}
    r = await writer.write([a.delta({"s0": "away"}, since=100.0, ts=100.0)])  # 1970: a clock never set
    assert r.rejected == {"bad_time": 1}
    await writer.write([a.delta({"s0": "occupied"})])
    assert (await states(writer, "store-a"))["s0"] == "occupied"  # stayed frozen at 1e300 before the fix


async def test_edge_clock_jump_forward_freezes_a_seat_for_at_most_a_minute(writer):
    a = Edge()
    t = time.time()
    await writer.write([a.birth(2)], now=t)
    # The edge clock jumps an hour ahead (within the one-day bound), then NTP sets it back.
    await writer.write([a.delta({"s0": "occupied"}, since=t + 3600, ts=t + 3600)], now=t)
    await writer.write([a.delta({"s0": "empty"}, since=t + 5, ts=t + 5)], now=t + 5)
    assert (await states(writer, "store-a"))["s0"] == "occupied"  # within the skew allowance: ordered
    await writer.write([a.delta({"s0": "away"}, since=t + 70, ts=t + 70)], now=t + 70)
    assert (await states(writer, "store-a"))["s0"] == "away"  # an hour frozen before the fix


async def test_clock_jump_backwards_keeps_order_by_sequence_for_events(writer):
    a = Edge()
    t = time.time()
    await writer.write([a.birth(1)], now=t)
    # Capture times go backwards by 10 minutes: both events are stored, none lost, none twice.
    e1, e2 = a.event("s0", "occupied", at=t), a.event("s0", "empty", at=t - 600)
    await writer.write([e1, e2], now=t)
    await writer.write([e2, e1], now=t + 1)  # redelivered
    assert await n_events(writer, "store-a") == 2


def test_poison_messages_through_the_consumer_do_not_stall_other_stores(pg_url, make_hub, sim):
    """End to end over the real broker: ten unstorable messages (over-long boot ids) from one store, interleaved with
    another store's events. Before the fix each poison message failed its batch three times with
    back-off and was then split out: seconds per message, for every store's messages behind it."""
    from tests.support.waiting import wait_for

    client = make_hub(pg_url)
    a, b = sim(store_id="store-a"), sim(store_id="store-b", edge_id="edge-2")
    a.birth()
    b.birth()
    wait_for(lambda: client.get("/api/v1/stores/store-b/seats").status_code == 200, what="births")
    t0 = time.monotonic()
    for i in range(10):
        a.send(Event(**{**a.base(), "boot_id": "b" * (100 + i)}, seat_id="s0", from_state="empty",
                     to_state="occupied", at=time.time()))
        b.event("s1", "empty" if i % 2 == 0 else "occupied", "occupied" if i % 2 == 0 else "empty")
    wait_for(lambda: len(client.get("/api/v1/stores/store-b/events").json()["events"]) == 10, timeout=20,
             what="store-b's 10 events")
    elapsed = time.monotonic() - t0
    metrics = client.get("/metrics").text
    assert 'seat_hub_rejected_messages_total{reason="bad_string"} 10.0' in metrics
    assert elapsed < 3.0, f"store-b waited {elapsed:.1f} s behind store-a's poison messages"
    print(f"10 poison messages: store-b's events all stored {elapsed:.2f} s after the first was sent")


async def test_a_channel_listed_twice_in_one_health_is_stored_once_last_wins(writer):
    """Found by the hypothesis writer fuzz: one statement may not update a row twice on
    PostgreSQL ("ON CONFLICT DO UPDATE command cannot affect row a second time")."""
    from hub.db.models import Channel

    a = Edge()
    await writer.write([a.birth()])
    r = await writer.write([a.raw(Health(**a.base(), channels=[
        ChannelHealth(1, True, fps=5.0), ChannelHealth(1, False, fps=0.0, last_error="gone")]))])
    assert r.dropped == 0
    async with writer.sessionmaker() as s:
        rows = (await s.execute(select(Channel).where(Channel.store_id == "store-a"))).scalars().all()
    ch1 = [c for c in rows if c.channel == 1]
    assert len(ch1) == 1 and ch1[0].online is False and ch1[0].last_error == "gone"
