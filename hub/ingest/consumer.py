"""The ingest consumer: one asyncio task that takes edge messages from the MQTT client
(:mod:`hub.mqtt.client`) in batches, has each batch committed by the writer, acknowledges it to
the broker, and hands on what the batch asks for (snapshot requests to the edges, live updates to
the dashboards, metrics). Between batches it runs the gap and silence checks (:mod:`.timers`).

Messages are acknowledged (PUBACK) only after the batch that holds them is committed. While the
database is unreachable the consumer keeps the batch and retries; the queue fills, paho's thread
waits, and the broker keeps the rest: nothing is lost. A batch that fails while the database
answers is split, and a single message that still fails is logged with its topic and dropped
(acknowledged), so one poison message cannot stall ingest.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text

from hub.ingest.reducer import BatchResult
from hub.ingest.timers import IngestTimers
from hub.ingest.writer import IngestWriter
from hub.live.fanout import LiveHub
from hub.mqtt.client import MqttClient, RawMessage
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
        self._writing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-ingest-writer")

    def busy(self) -> bool:
        return self._writing

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _next_batch(self) -> list[RawMessage]:
        q = self.client.queue
        assert q is not None, "start the MQTT client first"
        try:
            first = await asyncio.wait_for(q.get(), timeout=self.timers.wait_s())
        except TimeoutError:
            return []
        batch = [first]
        limit = self.settings.ingest.batch_max
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.ingest.batch_wait_ms / 1000
        while len(batch) < limit:
            try:
                batch.append(q.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(q.get(), timeout=remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            q = self.client.queue
            self.metrics.queue_depth.set(q.qsize() if q else 0)
            if batch:
                self._writing = True
                try:
                    for result in await self._write_until_stored(batch):
                        await self.after_commit(result)
                    self.client.ack(batch)  # only now may the broker forget these messages
                finally:
                    self._writing = False
            await self.timers.run_due(self.after_commit)

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
