"""MQTT side of the ingest: paho-mqtt 2.x (MQTT v5) in its own network thread, a shared
subscription so several hub replicas split the load, and one asyncio writer task that batches.

paho's thread only hands (topic, payload) to the event loop; all decoding and database work
happens in the writer task. When the writer falls behind, the paho thread waits (backpressure
to the broker) instead of growing memory without bound.

Messages are acknowledged to the broker (PUBACK, paho's manual_ack) only after the batch that
holds them is committed. While the database is unreachable the writer keeps the batch and
retries; the queue fills, paho's thread waits, and the broker keeps the rest: nothing is lost.
A batch that fails while the database answers is split, and a single message that still fails
is logged with its topic and dropped (acknowledged), so one poison message cannot stall ingest.
By default (``mqtt.session_expiry_s`` > 0, a client id stable per host and port) the broker also
keeps what a crashed hub had not committed, and what arrives while it is down, and sends it when
the hub is back. Mosquitto keeps routing a shared subscription's share to a member whose session
is kept while it is offline; ``mqtt.release_session_on_stop`` makes a planned stop of one replica
hand everything to the others at once (see docs/reliability.md for the trade-off).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import text

from hub.ingest.writer import BatchResult, IngestWriter, RawMessage
from hub.settings import HubSettings, mqtt_client_id
from hub.system.metrics import HubMetrics
from hub.web.live import LiveHub
from protocol import Message, TopicError, TopicSpace, encode

log = logging.getLogger("hub.mqtt")


class MqttUnavailable(RuntimeError):
    """The broker is not connected or did not acknowledge a publish in time."""


class MqttIngest:
    def __init__(self, settings: HubSettings, writer: IngestWriter, live: LiveHub, metrics: HubMetrics) -> None:
        self.settings = settings
        self.topics = TopicSpace(settings.mqtt.topic_prefix)
        self.writer = writer
        self.live = live
        self.metrics = metrics
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._stopping = False
        self._queue: asyncio.Queue[RawMessage] | None = None
        self._inbox: collections.deque[RawMessage] = collections.deque()  # paho thread -> loop
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._writing = False
        cid = mqtt_client_id(settings)
        self.client_id = cid
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        if settings.mqtt.username:
            self.client.username_pw_set(settings.mqtt.username, settings.mqtt.password)
        if settings.mqtt.tls:
            self.client.tls_set(ca_certs=settings.mqtt.ca_file)
        self.client.reconnect_delay_set(1, 30)
        self.client.max_queued_messages_set(10_000)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._live_head = self.topics.live_filter()[:-1]  # "{prefix}-live/"
        live.relay = self._relay_live

    # -- paho thread ---------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connected.set()
        self.metrics.mqtt_connected.set(1)
        flt = self.topics.shared_edge_filter(self.settings.mqtt.shared_group)
        # edge messages: shared between replicas; live updates: every replica gets all of them
        client.subscribe([(flt, 1), (self.topics.live_filter(), 0)])
        log.info("connected to %s:%d, subscribed to %s", self.settings.mqtt.host, self.settings.mqtt.port, flt)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            log.error("subscription refused: %s", bad)
        else:
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self.metrics.mqtt_connected.set(0)
        if not self._stopping:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        q, loop = self._queue, self._loop
        if q is None or loop is None or loop.is_closed():
            return
        if msg.qos == 0 and msg.topic.startswith(self._live_head):
            self._on_live(loop, msg)
            return
        while q.qsize() + len(self._inbox) >= self.settings.ingest.queue_max and not self._stopping:
            time.sleep(0.005)  # backpressure: the broker holds what we cannot take yet
        self._inbox.append(RawMessage(msg.topic, bytes(msg.payload), time.time(), msg.mid, msg.qos))
        # One loop wake-up per burst, not per message: call_soon_threadsafe writes to the loop's
        # self-pipe and wakes it, ~20 % of this thread's time at 5k messages/s (py-spy).
        if not self._wake_pending:
            self._wake_pending = True
            try:
                loop.call_soon_threadsafe(self._drain_inbox)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _drain_inbox(self) -> None:
        """In the loop: move what the paho thread received into the writer's queue. The flag is
        cleared first, so a message appended meanwhile schedules another drain."""
        self._wake_pending = False
        q, inbox = self._queue, self._inbox
        if q is None:
            return
        while inbox:
            q.put_nowait(inbox.popleft())

    def _on_live(self, loop: asyncio.AbstractEventLoop, msg: mqtt.MQTTMessage) -> None:
        try:
            store_id = self.topics.parse_live(msg.topic)
            text = msg.payload.decode()
            payload = json.loads(text)
        except (TopicError, ValueError) as exc:
            log.warning("dropped live update on %r: %s", msg.topic, exc)
            return
        try:
            # the JSON text as it came is what the clients get: not encoded again per replica
            loop.call_soon_threadsafe(self.live.deliver, store_id, payload, text)
        except RuntimeError:
            pass

    def _relay_live(self, store_id: str, payload: dict[str, Any]) -> bool:
        if not self.subscribed.is_set():
            return False
        info = self.client.publish(self.topics.live_topic(store_id), json.dumps(payload), qos=0)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._writer_loop(), name="hub-ingest-writer")
        m = self.settings.mqtt
        props = None
        if m.session_expiry_s > 0:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = m.session_expiry_s
        self.client.connect_async(m.host, m.port, m.keepalive_s, clean_start=m.session_expiry_s <= 0,
                                  properties=props)
        self.client.loop_start()

    async def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (tests and the demo wait for this)."""
        return await asyncio.to_thread(self.subscribed.wait, timeout)

    async def stop(self) -> None:
        if self.settings.mqtt.release_session_on_stop and self.subscribed.is_set():
            await self._release()
        self._stopping = True
        self.live.relay = None  # from now on, updates are delivered locally only
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self.settings.mqtt.release_session_on_stop:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the broker forgets this replica now: nothing is kept for it
            self.client.disconnect(properties=props)
        else:
            self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        self.metrics.mqtt_connected.set(0)

    async def _release(self, quiet_s: float = 0.5, timeout_s: float = 20.0) -> None:
        """Leave the shared group: no new messages come to this replica; those already received
        (or in flight to it) are committed and acknowledged by the writer before the disconnect."""
        flt = self.topics.shared_edge_filter(self.settings.mqtt.shared_group)
        self.client.unsubscribe(flt)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet_since = loop.time()
        while loop.time() < deadline:
            busy = (self._queue is not None and self._queue.qsize() > 0) or self._writing
            if busy:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.05)
        log.info("left shared group %s: everything received is committed", self.settings.mqtt.shared_group)

    # -- publishing (hub -> edge) -----------------------------------------------------------
    async def publish(self, msg: Message, kind: str, *, retain: bool = False, timeout: float = 5.0) -> None:
        """Publish QoS 1 and wait for the broker's acknowledgement."""
        if not self.connected.is_set():
            raise MqttUnavailable(f"not connected to the broker at {self.settings.mqtt.host}:{self.settings.mqtt.port}")
        topic = self.topics.topic(msg.store_id, msg.edge_id, kind)
        props = None
        if retain:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = "application/msgpack"
        info = self.client.publish(topic, encode(msg), qos=1, retain=retain, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise MqttUnavailable(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        try:
            await asyncio.to_thread(info.wait_for_publish, timeout)
        except (RuntimeError, ValueError) as exc:
            raise MqttUnavailable(f"publish to {topic} failed: {exc}") from None
        if not info.is_published():
            raise MqttUnavailable(f"broker did not acknowledge {topic} within {timeout:.0f} s")

    # -- writer task ---------------------------------------------------------------------
    async def _next_batch(self) -> list[RawMessage]:
        assert self._queue is not None
        q = self._queue
        check_every = 1.0 if self.writer.pending_gaps else min(5.0, self.settings.edge_timeout_s / 3)
        try:
            first = await asyncio.wait_for(q.get(), timeout=check_every)
        except TimeoutError:
            return []
        batch = [first]
        limit = self.settings.ingest.batch_max
        deadline = asyncio.get_running_loop().time() + self.settings.ingest.batch_wait_ms / 1000
        while len(batch) < limit:
            try:
                batch.append(q.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(q.get(), timeout=remaining))
            except TimeoutError:
                break
        return batch

    async def _writer_loop(self) -> None:
        next_silence_check = 0.0
        next_gap_check = 0.0
        while True:
            batch = await self._next_batch()
            self.metrics.queue_depth.set(self._queue.qsize() if self._queue else 0)
            if batch:
                self._writing = True
                try:
                    for result in await self._write_until_stored(batch):
                        await self._after_commit(result)
                    self._ack(batch)  # only now may the broker forget these messages
                finally:
                    self._writing = False
            if self.writer.pending_gaps and time.monotonic() >= next_gap_check:
                next_gap_check = time.monotonic() + 1.0
                try:
                    await self._after_commit(await self.writer.check_gaps())
                except Exception:
                    log.exception("gap check failed")
            if time.monotonic() >= next_silence_check:
                next_silence_check = time.monotonic() + min(5.0, self.settings.edge_timeout_s / 3)
                try:
                    result = await self.writer.mark_silent(self.settings.edge_timeout_s)
                    await self._after_commit(result)
                except Exception:
                    log.exception("silence check failed")

    def _ack(self, batch: list[RawMessage]) -> None:
        for raw in batch:
            if raw.qos > 0:
                self.client.ack(raw.mid, raw.qos)

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

    async def _after_commit(self, result: BatchResult) -> None:
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
                await self.publish(req, "snapshot_request")
                m.snapshot_requests.inc()
                log.info("asked %s/%s for a snapshot (%s)", req.store_id, req.edge_id, req.reason)
            except Exception as exc:
                log.warning("snapshot request to %s/%s not sent: %s", req.store_id, req.edge_id, exc)
        for store_id, payload in result.live.items():
            out: dict[str, Any] = {
                "type": "update",
                "store_id": store_id,
                "seats": list(payload["seats"].values()),
                "edges": list(payload["edges"].values()),
                "channels": list(payload.get("channels", {}).values()),
            }
            await self.live.publish(store_id, out)
