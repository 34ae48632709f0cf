"""Live updates: from the ingest and the alert service to WebSocket subscribers per store.

With MQTT on, ``publish`` goes out through the broker (``relay``) and comes back to every hub
replica, which hands it to its own WebSocket clients (``deliver``): a page open on one replica
sees what another replica's ingest wrote. Without a broker connection it is delivered locally.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any


class LiveHub:
    def __init__(self, queue_max: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._queue_max = queue_max
        # Set by the MQTT ingest: sends (store_id, payload) to all replicas; False if it cannot.
        self.relay: Callable[[str, dict[str, Any]], bool] | None = None

    def subscribe(self, store_id: str) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_max)
        self._subs[store_id].add(q)
        return q

    def unsubscribe(self, store_id: str, q: asyncio.Queue[dict[str, Any]]) -> None:
        subs = self._subs.get(store_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                self._subs.pop(store_id, None)

    def subscribers(self, store_id: str) -> int:
        return len(self._subs.get(store_id, ()))

    async def publish(self, store_id: str, payload: dict[str, Any]) -> None:
        if self.relay is not None and self.relay(store_id, payload):
            return  # comes back through the broker to every replica, this one included
        self.deliver(store_id, payload)

    def deliver(self, store_id: str, payload: dict[str, Any]) -> None:
        """Hand to every local subscriber of the store; a slow one loses its oldest update, never
        blocks the ingest (the page re-syncs from the API on reconnect)."""
        for q in list(self._subs.get(store_id, ())):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(payload)
