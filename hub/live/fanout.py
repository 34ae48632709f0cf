"""Live fan-out: typed ``protocol.live`` messages to the WebSocket subscribers of each store.

Split from its transport the way Litestar's Channels plugin splits the plugin from its backend:
``LiveHub`` only keeps subscribers and hands them messages; a ``LiveBackend`` (the MQTT relay,
:mod:`hub.mqtt.live_relay`) carries a published message to every hub replica and gives what it
receives back to ``deliver``. Without a backend, or while it cannot send, a message is delivered
locally, so a single hub works with the broker down.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protocol.live import LiveMessage, encode_live

Deliver = Callable[[str, "LiveMessage", bytes], None]


class LiveBackend(Protocol):
    """Transport between hub replicas. ``connect`` is told where received messages go;
    ``send`` returns False when it cannot send now (the hub then delivers locally)."""

    def connect(self, deliver: Deliver) -> None: ...

    def send(self, store_id: str, data: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message and its JSON, encoded once for every client of the store instead of once per
    client: with 200 clients the per-client encode was most of the fan-out cost."""

    message: LiveMessage
    text: str


class LiveHub:
    def __init__(self, backend: LiveBackend | None = None, queue_max: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[Outgoing]]] = defaultdict(set)
        self._queue_max = queue_max
        self.backend = backend
        if backend is not None:
            backend.connect(self.deliver)

    def subscribe(self, store_id: str) -> asyncio.Queue[Outgoing]:
        q: asyncio.Queue[Outgoing] = asyncio.Queue(self._queue_max)
        self._subs[store_id].add(q)
        return q

    def unsubscribe(self, store_id: str, q: asyncio.Queue[Outgoing]) -> None:
        subs = self._subs.get(store_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                self._subs.pop(store_id, None)

    def subscribers(self, store_id: str) -> int:
        return len(self._subs.get(store_id, ()))

    async def publish(self, store_id: str, msg: LiveMessage) -> None:
        data = encode_live(msg)
        if self.backend is not None and self.backend.send(store_id, data):
            return  # comes back through the backend to every replica, this one included
        self.deliver(store_id, msg, data)

    def deliver(self, store_id: str, msg: LiveMessage, data: bytes) -> None:
        """Hand to every local subscriber of the store; a slow one loses its oldest message, never
        blocks the ingest (the page re-syncs from the API on reconnect). ``data``: the message's
        JSON as published (not encoded again per replica)."""
        subs = self._subs.get(store_id)
        if not subs:
            return
        out = Outgoing(msg, data.decode())
        for q in list(subs):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(out)
