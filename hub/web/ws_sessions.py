"""Which open live WebSockets belong to which login session, so that a logout on this replica
closes them at once (other changes, from other replicas or the CLI, are found by each socket's
periodic re-check: ``auth.ws_recheck_s``)."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class WsSessions:
    def __init__(self) -> None:
        self._by_token: dict[str, set[asyncio.Event]] = defaultdict(set)

    def register(self, token: str) -> asyncio.Event:
        ev = asyncio.Event()
        self._by_token[token].add(ev)
        return ev

    def unregister(self, token: str, ev: asyncio.Event) -> None:
        evs = self._by_token.get(token)
        if evs is not None:
            evs.discard(ev)
            if not evs:
                self._by_token.pop(token, None)

    def end(self, token: str) -> int:
        """Wake every socket of this session to re-check now; returns how many."""
        evs = self._by_token.get(token, set())
        for ev in evs:
            ev.set()
        return len(evs)
