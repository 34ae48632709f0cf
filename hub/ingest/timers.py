"""The ingest's two clocks, run between batches by the consumer (one task, so they never race
a batch for the same rows): pending sequence gaps checked every second while there are any, and
silent edges looked for every ``min(5 s, edge_timeout_s / 3)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from hub.ingest.reducer import BatchResult
from hub.ingest.writer import IngestWriter

log = logging.getLogger("hub.mqtt")


class IngestTimers:
    def __init__(self, writer: IngestWriter, edge_timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self.edge_timeout_s = edge_timeout_s
        self.clock = clock
        self._next_gap = 0.0
        self._next_silence = 0.0

    @property
    def silence_every_s(self) -> float:
        return min(5.0, self.edge_timeout_s / 3)

    def wait_s(self) -> float:
        """How long the consumer may wait for a message before the next check is due."""
        return 1.0 if self.writer.pending_gaps else self.silence_every_s

    async def run_due(self, after: Callable[[BatchResult], Awaitable[None]]) -> None:
        """The checks that are due; their results go to ``after`` (metrics, snapshot requests,
        live updates). A failing check is logged and tried again next time."""
        if self.writer.pending_gaps and self.clock() >= self._next_gap:
            self._next_gap = self.clock() + 1.0
            try:
                await after(await self.writer.check_gaps())
            except Exception:
                log.exception("gap check failed")
        if self.clock() >= self._next_silence:
            self._next_silence = self.clock() + self.silence_every_s
            try:
                await after(await self.writer.mark_silent(self.edge_timeout_s))
            except Exception:
                log.exception("silence check failed")
