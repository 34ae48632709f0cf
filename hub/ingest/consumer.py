"""The ingest consumer: one asyncio task that takes edge messages from the MQTT client
(:mod:`hub.mqtt.client`) in batches, has each batch committed by the writer, acknowledges it to
the broker, and hands on what the batch asks for (snapshot requests to the edges, live updates to
the dashboards, metrics). Between batches it runs the gap and silence checks (:mod:`.timers`).

Messages are acknowledged (PUBACK) only after the batch that holds them is committed. While the
database is unreachable the consumer keeps the batch and retries; the queue fills, paho's thread
waits, and the broker keeps the rest: nothing is lost. A batch that fails while the database
answers is split, and a single message that still fails is logged with its topic and dropped
(acknowledged), so one poison message cannot stall ingest.

Batches are fair between stores (:mod:`hub.mqtt.fair`): round robin, with a budget per store, so one store's
backlog or big births cannot make every other store wait (issue 20, item 5). In store-sessions
mode the consumer also reads the stores table every ``mqtt.store_poll_s`` and tells the MQTT client
which stores to open a broker session for.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select, text

from hub.db.models import Store
from hub.ingest.reducer import BatchResult
from hub.ingest.timers import IngestTimers
from hub.ingest.writer import IngestWriter
from hub.live.fanout import LiveHub
from hub.mqtt.client import MqttClient, RawMessage
from hub.mqtt.fair import Budget
from hub.settings import HubSettings
from hub.system.metrics import HubMetrics
from protocol import Stored, seq_ranges

log = logging.getLogger("hub.mqtt")


class IngestConsumer:
    def __init__(self, settings: HubSettings, client: MqttClient, writer: IngestWriter, live: LiveHub,
                 metrics: HubMetrics) -> None:
        self.settings = settings
        self.client = client
        self.writer = writer
        self.live = live
        self.metrics = metrics
        self.timers = IngestTimers(writer, settings.edge_timeout_s)
        self._task: asyncio.Task | None = None
        self._poll: asyncio.Task | None = None
        self._writing = False
        i = settings.ingest
        self.budget = Budget(store_messages=i.store_batch_max, store_bytes=i.store_batch_bytes,
                             batch_messages=i.batch_max)

    async def start(self) -> None:
        if self.client.lanes is not None:
            await self.poll_stores()  # the stores' sessions open before the first batch
            self._poll = asyncio.create_task(self._poll_stores(), name="hub-store-sessions")
        self._task = asyncio.create_task(self._run(), name="hub-ingest-writer")

    async def poll_stores(self) -> None:
        try:
            async with self.writer.sessionmaker() as session:
                ids = list((await session.execute(select(Store.id))).scalars())
        except Exception as exc:  # the database is away: keep the sessions we have
            log.warning("cannot read the stores table (%r): store sessions unchanged", exc)
            return
        self.client.set_stores(ids)

    async def _poll_stores(self) -> None:
        while True:
            await asyncio.sleep(self.settings.mqtt.store_poll_s)
            await self.poll_stores()

    def busy(self) -> bool:
        return self._writing

    async def stop(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _next_batch(self) -> list[RawMessage]:
        fair, ready = self.client.fair, self.client.has_messages
        assert ready is not None, "start the MQTT client first"
        if not len(fair):
            ready.clear()
            try:
                await asyncio.wait_for(ready.wait(), timeout=self.timers.wait_s())
            except TimeoutError:
                return []
        if len(fair) < self.settings.ingest.batch_max and self.settings.ingest.batch_wait_ms > 0:
            await asyncio.sleep(self.settings.ingest.batch_wait_ms / 1000)  # let the batch fill up
        return fair.take(self.budget)

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            self.metrics.queue_depth.set(len(self.client.fair))
            if batch:
                self._writing = True
                try:
                    results = await self._write_until_stored(batch)
                    self._count_stores(batch, results)
                    for result in results:
                        await self.after_commit(result)
                    self.client.ack(batch)  # only now may the broker forget these messages
                finally:
                    self._writing = False
            await self.timers.run_due(self.after_commit)

    def _count_stores(self, batch: list[RawMessage], results: list[BatchResult]) -> None:
        """The per-store rate in /metrics: messages of stores that had something stored (so that
        refused messages with invented store ids cannot mint labels), and seat changes."""
        stored = {store for r in results for store in r.seat_changes_by_store} | {
            store for r in results for (store, _, _) in r.settled_events}
        counts: dict[str, int] = {}
        for raw in batch:
            if raw.lane or raw.store in stored:
                counts[raw.store] = counts.get(raw.store, 0) + 1
        for store, n in counts.items():
            self.metrics.store_messages.labels(store).inc(n)
        for r in results:
            for store, n in r.seat_changes_by_store.items():
                self.metrics.store_seat_changes.labels(store).inc(n)

    async def _write_until_stored(self, batch: list[RawMessage]) -> list[BatchResult]:
        """Commit ``batch``. While the database is unreachable: keep it and retry (the broker
        holds everything behind it). While it answers but the batch still fails: split it, and
        drop (log) a single message that cannot be stored."""
        failures = 0
        while True:
            t0 = time.perf_counter()
            try:
                result = await self.writer.write(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if await self._database_answers():
                    if failures >= 3:
                        if len(batch) == 1:
                            log.error("message on %s cannot be stored and is dropped: %r", batch[0].topic, exc)
                            self.metrics.batch_failures.inc()
                            return []
                        half = len(batch) // 2
                        return await self._write_until_stored(batch[:half]) + await self._write_until_stored(
                            batch[half:])
                    # A conflicting replica or a transient error: the transaction rolled back, retry.
                    log.warning("ingest batch of %d failed (attempt %d): %r", len(batch), failures, exc)
                elif failures == 1 or failures % 10 == 0:
                    log.warning("database unreachable (%r): holding %d messages and retrying", exc, len(batch))
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
                continue
            self.metrics.batch_seconds.observe(time.perf_counter() - t0)
            self.metrics.batch_size.observe(len(batch))
            return [result]

    async def _database_answers(self) -> bool:
        try:
            async with self.writer.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def after_commit(self, result: BatchResult) -> None:
        m = self.metrics
        for kind, n in result.by_kind.items():
            m.ingested.labels(kind).inc(n)
        m.bad_payloads.inc(result.dropped)
        for reason, n in result.rejected.items():
            m.rejected.labels(reason).inc(n)
        m.duplicates.inc(result.duplicates)
        m.gaps.inc(result.gaps)
        m.seat_changes.inc(result.seat_changes)
        for req in result.snapshot_requests:
            try:
                await self.client.publish(req, "snapshot_request")
                m.snapshot_requests.inc()
                log.info("asked %s/%s for a snapshot (%s)", req.store_id, req.edge_id, req.reason)
            except Exception as exc:
                log.warning("snapshot request to %s/%s not sent: %s", req.store_id, req.edge_id, exc)
        for update in result.live:
            await self.live.publish(update.store_id, update)
        for (store_id, edge_id, boot_id), seqs in result.settled_events.items():
            # The end-to-end acknowledgement (issue 20): the edge keeps these events until it reads
            # this. Not sent: the edge sends them again later, and the dedupe makes that harmless.
            ack = Stored(store_id=store_id, edge_id=edge_id, ts=time.time(), boot_id=boot_id,
                         seqs=seq_ranges(seqs))
            if not self.client.publish_nowait(ack, "stored"):
                log.warning("stored-confirmation to %s/%s not sent (broker unreachable); the edge sends "
                            "those events again later", store_id, edge_id)
