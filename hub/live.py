"""Live updates: an in-process broadcaster from the ingest to WebSocket subscribers per store.

Each hub replica pushes what its own ingest wrote; with several replicas a page may miss the
other replicas' updates until it reloads (PostgreSQL LISTEN/NOTIFY would close that gap).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any


class LiveHub:
    def __init__(self, queue_max: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._queue_max = queue_max

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
        """Deliver to every subscriber of the store; a slow one loses its oldest update, never
        blocks the ingest (the page re-syncs from the API on reconnect)."""
        for q in list(self._subs.get(store_id, ())):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(payload)
