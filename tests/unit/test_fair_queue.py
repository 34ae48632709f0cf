"""hub/mqtt/fair.py: batches are round robin across stores, within a budget per store (issue 20,
item 5: one store's backlog or big births must not hold up the others)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.mqtt.fair import Budget, FairQueue


@dataclass
class M:
    store: str
    n: int
    payload: bytes = b"x" * 100


def test_a_backlog_of_one_store_takes_only_its_budget_and_the_other_store_is_in_the_first_batch():
    q: FairQueue[M] = FairQueue()
    for i in range(10_000):
        q.put("flood", M("flood", i))
    q.put("calm", M("calm", 0))
    batch = q.take(Budget(store_messages=250, batch_messages=1000))
    assert [m.n for m in batch if m.store == "flood"] == list(range(250))  # in order, within budget
    assert [m.store for m in batch].count("calm") == 1
    assert len(q) == 10_000 - 250


def test_order_within_a_store_is_kept_across_batches_and_nothing_is_lost():
    q: FairQueue[M] = FairQueue()
    for i in range(700):
        for s in ("a", "b", "c"):
            q.put(s, M(s, i))
    seen: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    while len(q):
        batch = q.take(Budget(store_messages=100, batch_messages=250))
        assert len(batch) <= 250
        for m in batch:
            seen[m.store].append(m.n)
    assert seen == {s: list(range(700)) for s in "abc"}


def test_round_robin_continues_after_the_last_store_served():
    q: FairQueue[M] = FairQueue()
    for s in "abcd":
        for i in range(10):
            q.put(s, M(s, i))
    first = q.take(Budget(store_messages=10, batch_messages=20))
    assert {m.store for m in first} == {"a", "b"}
    second = q.take(Budget(store_messages=10, batch_messages=20))
    assert {m.store for m in second} == {"c", "d"}  # not a and b again


def test_big_births_go_alone_alternating_with_the_small_messages_of_every_store():
    q: FairQueue[M] = FairQueue()
    for i in range(100):
        q.put("births", M("births", i, b"b" * 150_000))
    q.put("calm", M("calm", 0))
    budget = Budget()
    first, second = q.take(budget), q.take(budget)
    assert [m.store for m in first] == ["births"]  # a birth alone
    assert [m.store for m in second] == ["calm"]  # then the small ones, without a birth in their batch
    q.put("calm", M("calm", 1))
    assert [m.store for m in q.take(budget)] == ["births"]
    assert [(m.store, m.n) for m in q.take(budget)] == [("calm", 1)]


def test_a_stores_small_messages_wait_behind_its_own_birth():
    q: FairQueue[M] = FairQueue()
    q.put("a", M("a", 0))
    q.put("a", M("a", 1, b"b" * 150_000))
    q.put("a", M("a", 2))
    order = []
    while len(q):
        order += [m.n for m in q.take(Budget())]
    assert order == [0, 1, 2]


def test_store_sessions_are_on_when_the_hub_logs_in_and_settings_are_checked():
    import pytest

    from hub.settings import SettingsError, parse_settings, store_sessions_on

    assert not store_sessions_on(parse_settings(b""))  # an open trial broker: one shared session
    assert store_sessions_on(parse_settings(b'[mqtt]\nusername = "seat-hub"\npassword = "x"\n'))
    assert not store_sessions_on(parse_settings(b'[mqtt]\nusername = "h"\nstore_sessions = "off"\n'))
    # over TLS the shipped listener is the edges' (client id = username: one connection per account)
    assert not store_sessions_on(parse_settings(b'[mqtt]\nusername = "h"\npassword = "x"\ntls = true\n'))
    assert store_sessions_on(parse_settings(b'[mqtt]\nstore_sessions = "on"\n'))
    for bad in (b'[mqtt]\nstore_sessions = "yes"\n', b'[mqtt]\nstore_inflight = 0\n',
                b'[ingest]\nstore_batch_max = 0\n'):
        with pytest.raises(SettingsError):
            parse_settings(bad)


def test_with_many_stores_backlogged_a_quiet_store_is_in_the_next_batch():
    """Catch-up (issue 21): 100 stores replay a backlog at once. With 250 per store a
    1000-message batch held four backlogged stores, and a quiet store waited 25 batches (~4 s
    live p95 in bench_catchup); quiet stores are now taken first, whole."""
    q: FairQueue[M] = FairQueue()
    for s in range(100):
        for i in range(800):
            q.put(f"c{s}", M(f"c{s}", i))
    q.put("calm", M("calm", 0))
    budget = Budget(store_messages=250, batch_messages=1000)
    batch = q.take(budget)
    assert [m.store for m in batch].count("calm") == 1 and len(batch) == 1000
    assert len({m.store for m in batch}) == 5  # the quiet one + four backlogs: few stores per batch
    # nothing is lost or reordered over the whole drain, and a later quiet message rides the next batch
    seen: dict[str, list[int]] = {}
    for m in batch:
        seen.setdefault(m.store, []).append(m.n)
    rounds = 0
    while len(q):
        q.put("calm", M("calm", rounds + 1)) if rounds < 3 else None
        nxt = q.take(budget)
        if rounds < 3:
            assert any(m.store == "calm" for m in nxt)
        for m in nxt:
            seen.setdefault(m.store, []).append(m.n)
        rounds += 1
    assert all(seen[f"c{s}"] == list(range(800)) for s in range(100)) and seen["calm"] == [0, 1, 2, 3]


def test_quiet_stores_first_still_respect_the_batch_size():
    q: FairQueue[M] = FairQueue()
    for s in range(30):
        for i in range(5):
            q.put(f"q{s}", M(f"q{s}", i))
    first = q.take(Budget(store_messages=250, batch_messages=50))
    assert len(first) == 50 and {m.store for m in first} == {f"q{s}" for s in range(10)}
    second = q.take(Budget(store_messages=250, batch_messages=50))
    assert {m.store for m in second} == {f"q{s}" for s in range(10, 20)}
