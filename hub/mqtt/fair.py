"""Fair batches across stores (pure: no I/O, no clock).

Edge messages wait here per store, in arrival order within each store. A batch takes stores in
round-robin order, at most ``store_messages`` messages and ``store_bytes`` payload bytes from each
(always at least one, so a single big birth still goes), and at most ``batch_messages`` /
``batch_bytes`` in all. So one store with a deep backlog, or with big births, fills at most its
budget of every batch, and a quiet store's message is in the next batch whatever the others
queued: a batch's write time (what every store in it waits for) stays bounded. The round robin
starts after the last store served, so no store is always first. Order within a store is kept
(the reducer's gap check and state ordering depend on it).

Stores with only a few messages waiting (``quiet_messages``: a store's live traffic) are taken
whole first, then the backlogs round robin: when many stores replay a backlog at once (a region
back online), a live store still rides the next batch, and a batch still touches few backlogged
stores (each store in a batch costs its own state reads, rollups and ``Stored`` reply).

Big messages (over ``heavy_bytes``: births, in practice) go in batches of their own, one at a
time, alternating with batches of the small ones (events, deltas, health of every store): a store
sending births back to back then costs the others at most one birth's write per batch they wait
for, instead of a birth inside each of their own batches. A store's small messages behind its own
birth wait for it (order within a store).

Why bytes as well as messages: a message's cost to write follows its size (a 1000-seat birth is
~100-300 kB and writes 1000 seat rows; an event is ~150 bytes and writes one row), and the size
is known before decoding.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def payload(self) -> bytes: ...


M = TypeVar("M", bound=Sized)


@dataclass(frozen=True, slots=True)
class Budget:
    store_messages: int = 250  # of one store per batch
    store_bytes: int = 256 * 1024  # payload bytes of one store per batch (at least one message)
    batch_messages: int = 1000  # in all (ingest.batch_max)
    batch_bytes: int = 4 * 1024 * 1024
    heavy_bytes: int = 64 * 1024  # a message this big goes in a batch of its own
    quiet_messages: int = 20  # a store with no more than this waiting is taken whole, first


class FairQueue(Generic[M]):
    def __init__(self) -> None:
        self._queues: dict[str, collections.deque[M]] = {}
        self._ring: collections.deque[str] = collections.deque()  # stores with messages, next first
        self._count = 0
        self._heavy_last = False  # the last batch was a big message: small ones go next

    def __len__(self) -> int:
        return self._count

    def depth(self, store: str) -> int:
        q = self._queues.get(store)
        return len(q) if q else 0

    def stores(self) -> list[str]:
        return list(self._ring)

    def put(self, store: str, msg: M) -> None:
        q = self._queues.get(store)
        if q is None:
            q = self._queues[store] = collections.deque()
        if not q:
            self._ring.append(store)
        q.append(msg)
        self._count += 1

    def take(self, budget: Budget) -> list[M]:
        """One batch: the small messages of every store, round robin, each store within its
        budget; or one big message. The two kinds alternate while both wait."""
        if self._heavy_last:
            batch = self._take_light(budget)
            if batch:
                self._heavy_last = False
                return batch
        batch = self._take_heavy(budget)
        if batch:
            self._heavy_last = True
            return batch
        self._heavy_last = False
        return self._take_light(budget)

    def _take_heavy(self, budget: Budget) -> list[M]:
        for _ in range(len(self._ring)):
            store = self._ring.popleft()
            q = self._queues[store]
            if len(q[0].payload) > budget.heavy_bytes:
                batch = [q.popleft()]
                self._count -= 1
                self._requeue(store, q)
                return batch
            self._ring.append(store)
        return []

    def _requeue(self, store: str, q: collections.deque[M]) -> None:
        if q:
            self._ring.append(store)  # still has messages: after the others
        else:
            del self._queues[store]

    def _take_light(self, budget: Budget) -> list[M]:
        batch: list[M] = []
        total_bytes = 0
        # First the quiet stores (a few messages waiting: live traffic), whole: their messages are
        # in the next batch however many stores replay a backlog (100 stores back online at once
        # each got 10 of a 1000-message batch before, touching 100 stores per batch and halving
        # the drain, or 250 of the first four while a live store waited 25 batches). The ring
        # keeps the backlogged stores' order for the second pass.
        for _ in range(len(self._ring)):
            if len(batch) >= budget.batch_messages or total_bytes >= budget.batch_bytes:
                break
            store = self._ring.popleft()
            q = self._queues[store]
            if len(q) > budget.quiet_messages:
                self._ring.append(store)
                continue
            n = 0
            while q and len(batch) < budget.batch_messages:
                size = len(q[0].payload)
                if size > budget.heavy_bytes or (batch and total_bytes + size > budget.batch_bytes):
                    break
                batch.append(q.popleft())
                n += 1
                total_bytes += size
            self._count -= n
            self._requeue(store, q)
        # Then the backlogs, round robin, each within its budget.
        for _ in range(len(self._ring)):
            if len(batch) >= budget.batch_messages or total_bytes >= budget.batch_bytes:
                break
            store = self._ring.popleft()
            q = self._queues[store]
            n = nbytes = 0
            while q and n < budget.store_messages and len(batch) < budget.batch_messages:
                size = len(q[0].payload)
                if size > budget.heavy_bytes or (n and (nbytes + size > budget.store_bytes
                                                       or total_bytes + size > budget.batch_bytes)):
                    break
                batch.append(q.popleft())
                n += 1
                nbytes += size
                total_bytes += size
            self._count -= n
            self._requeue(store, q)
        return batch
