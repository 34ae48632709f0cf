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

import msgspec

_json = msgspec.json.Encoder()


class LiveUpdate(dict):
    """A live payload (read it like the dict it is) plus its JSON text, encoded once for every
    client of the store instead of once per client (``text``). With 200 clients the per-client
    ``send_json`` encode was most of the fan-out cost."""

    __slots__ = ("text",)

    def __init__(self, payload: dict[str, Any], text: str | None = None) -> None:
        super().__init__(payload)
        self.text = text if text is not None else _json.encode(payload).decode()


class LiveHub:
    def __init__(self, queue_max: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[LiveUpdate]]] = defaultdict(set)
        self._queue_max = queue_max
        # Set by the MQTT ingest: sends (store_id, payload) to all replicas; False if it cannot.
        self.relay: Callable[[str, dict[str, Any]], bool] | None = None

    def subscribe(self, store_id: str) -> asyncio.Queue[LiveUpdate]:
        q: asyncio.Queue[LiveUpdate] = asyncio.Queue(self._queue_max)
        self._subs[store_id].add(q)
        return q

    def unsubscribe(self, store_id: str, q: asyncio.Queue[LiveUpdate]) -> None:
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

    def deliver(self, store_id: str, payload: dict[str, Any], text: str | None = None) -> None:
        """Hand to every local subscriber of the store; a slow one loses its oldest update, never
        blocks the ingest (the page re-syncs from the API on reconnect). ``text``: the payload's
        JSON if the caller has it already (it came through the broker as JSON)."""
        subs = self._subs.get(store_id)
        if not subs:
            return
        update = payload if isinstance(payload, LiveUpdate) else LiveUpdate(payload, text)
        for q in list(subs):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(update)
