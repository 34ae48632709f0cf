"""The hub's MQTT connection: paho-mqtt 2.x (MQTT v5) in its own network thread, bridged to the
event loop with backpressure, and the QoS 1 publisher (hub -> edge).

- Edge messages come through a shared subscription (several hub replicas split the load). paho's
  thread only hands ``RawMessage``s to the loop (``queue``); all decoding and database work happens
  in the ingest consumer. When the consumer falls behind, the paho thread waits (backpressure to
  the broker) instead of growing memory without bound.
- Messages are acknowledged to the broker (PUBACK, paho's manual_ack) only when the consumer says
  so (``ack``), after the batch that holds them is committed. By default (``mqtt.session_expiry_s``
  > 0, a client id stable per host and port) the broker also keeps what a crashed hub had not
  committed, and what arrives while it is down, and sends it when the hub is back. Mosquitto keeps
  routing a shared subscription's share to a member whose session is kept while it is offline;
  ``mqtt.release_session_on_stop`` makes a planned stop of one replica hand everything to the
  others at once (see docs/reliability.md for the trade-off).
- With ``mqtt.store_sessions`` (on whenever the hub logs in to the broker), edge messages come
  instead through one broker session per store (:mod:`hub.mqtt.lanes`), so that one store's backlog
  waits in its own queue at the broker; this connection then carries the routes and the hub's
  publishing only. Either way received messages wait per store in a :class:`FairQueue`, which the
  consumer takes batches from round robin.
- Other subscriptions (the live relay's) are routes: a topic prefix and a handler that runs in
  the event loop.
- Edges publish nothing retained but their Last Will (``death``). Any other retained message on
  an edge topic (a hostile edge's: the broker cannot refuse retain per account) is dropped when the
  broker hands it over at (re)subscription, counted (``rejected{reason="edge_retained"}``) and
  cleared from the broker with an empty retained publish, so it is not replayed into every hub
  restart nor kept in the broker's memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.mqtt.fair import FairQueue
from hub.mqtt.lanes import StoreLanes
from hub.settings import HubSettings, mqtt_client_id, store_sessions_on
from hub.system.metrics import HubMetrics
from protocol import Message, TopicSpace, encode

log = logging.getLogger("hub.mqtt")


class MqttUnavailable(RuntimeError):
    """The broker is not connected or did not acknowledge a publish in time."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    payload: bytes
    received_at: float
    mid: int = 0  # MQTT packet id and QoS: acknowledged to the broker only after the commit
    qos: int = 0
    store: str = ""  # the store of the topic (fair batches); "" when the topic has none
    lane: bool = False  # came through the store's own session (acknowledged there)


@dataclass(frozen=True, slots=True)
class Route:
    filter: str  # subscription filter ending in "#"
    qos: int
    handler: Callable[[str, bytes], None]  # (topic, payload), called in the event loop

    @property
    def head(self) -> str:
        return self.filter[:-1]


class MqttClient:
    def __init__(self, settings: HubSettings, metrics: HubMetrics) -> None:
        self.settings = settings
        self.topics = TopicSpace(settings.mqtt.topic_prefix)
        self.metrics = metrics
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._stopping = False
        self._routes: list[Route] = []
        self.fair: FairQueue[RawMessage] = FairQueue()  # edge messages per store, for the consumer
        self.has_messages: asyncio.Event | None = None
        self.started = False
        self._inbox: collections.deque[RawMessage] = collections.deque()  # paho thread -> loop
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.client_id = mqtt_client_id(settings)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5,
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
        self.client.on_publish = self._on_publish
        # QoS 1 publishes waiting for the broker's PUBACK: mid -> future, resolved in the loop. Not
        # paho's wait_for_publish in a worker thread: a thread cannot be cancelled, and one left
        # waiting for an ack that never comes (hub stopping) held every shutdown for its 5 s.
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._store_head = self.topics.prefix + "/"
        self.lanes: StoreLanes | None = (StoreLanes(settings, metrics, self.client_id, self._on_lane_message)
                                         if store_sessions_on(settings) else None)

    @property
    def shared_filter(self) -> str:
        return self.topics.shared_edge_filter(self.settings.mqtt.shared_group)

    def add_route(self, filter: str, qos: int, handler: Callable[[str, bytes], None]) -> None:
        """Subscribe to ``filter`` (ending in ``#``) too; its messages go to ``handler`` in the loop,
        not to the ingest queue. Call before ``start``."""
        self._routes.append(Route(filter, qos, handler))

    # -- paho thread ---------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connected.set()
        self.metrics.mqtt_connected.set(1)
        # edge messages: shared between replicas (here, or per store in the lanes); routes (live
        # updates): every replica gets all
        subs = [*(((self.shared_filter, 1),) if self.lanes is None else ()), *((r.filter, r.qos) for r in self._routes)]
        if subs:
            client.subscribe(subs)
        else:
            self.subscribed.set()
        log.info("connected to %s:%d, subscribed to %s", self.settings.mqtt.host, self.settings.mqtt.port,
                 self.shared_filter if self.lanes is None else "one session per store")

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
        loop = self._loop
        if not self.started or loop is None or loop.is_closed():
            return
        if msg.retain and msg.payload and not msg.topic.endswith("/death") and not any(
                msg.topic.startswith(r.head) for r in self._routes):
            self._drop_retained(msg)
            return
        for route in self._routes:
            if msg.topic.startswith(route.head):
                try:
                    loop.call_soon_threadsafe(route.handler, msg.topic, bytes(msg.payload))
                except RuntimeError:  # loop closed during shutdown
                    pass
                return
        while len(self.fair) + len(self._inbox) >= self.settings.ingest.queue_max and not self._stopping:
            time.sleep(0.005)  # backpressure: the broker holds what we cannot take yet
        topic = msg.topic
        store = topic[len(self._store_head):].split("/", 1)[0] if topic.startswith(self._store_head) else ""
        self._inbox.append(RawMessage(topic, bytes(msg.payload), time.time(), msg.mid, msg.qos, store))
        self._wake(loop)

    def _on_lane_message(self, store: str, msg: mqtt.MQTTMessage) -> None:
        """The lanes' I/O thread: one store's message. Never waits: the lane's Receive Maximum
        already bounds what the hub holds of this store."""
        loop = self._loop
        if not self.started or loop is None or loop.is_closed():
            return
        if msg.retain and msg.payload and not msg.topic.endswith("/death"):
            assert self.lanes is not None
            self.lanes.ack_now([(store, msg.mid, msg.qos, len(msg.payload))])  # we are on the I/O thread
            self._clear_retained(msg)
            return
        self._inbox.append(RawMessage(msg.topic, bytes(msg.payload), time.time(), msg.mid, msg.qos, store, True))
        self._wake(loop)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        # One loop wake-up per burst, not per message: call_soon_threadsafe writes to the loop's
        # self-pipe and wakes it, ~20 % of this thread's time at 5k messages/s (py-spy).
        if not self._wake_pending:
            self._wake_pending = True
            try:
                loop.call_soon_threadsafe(self._drain_inbox)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _drop_retained(self, msg: mqtt.MQTTMessage) -> None:
        """Paho thread: a retained message on an edge topic that is not a Last Will (see the module doc)."""
        if msg.qos > 0:
            self.client.ack(msg.mid, msg.qos)
        self._clear_retained(msg)

    def _clear_retained(self, msg: mqtt.MQTTMessage) -> None:
        self.metrics.rejected.labels(reason="edge_retained").inc()
        log.warning("retained %d-byte message on %s dropped and cleared: edges publish only their Last Will "
                    "retained", len(msg.payload), msg.topic)
        self.client.publish(msg.topic, b"", qos=1, retain=True)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._acked, mid)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _acked(self, mid: int) -> None:
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _drain_inbox(self) -> None:
        """In the loop: move what the paho thread received into the queue. The flag is cleared
        first, so a message appended meanwhile schedules another drain."""
        self._wake_pending = False
        inbox, fair = self._inbox, self.fair
        if not inbox:
            return
        while inbox:
            raw = inbox.popleft()
            fair.put(raw.store, raw)
        if self.has_messages is not None:
            self.has_messages.set()

    # -- loop side -------------------------------------------------------------------------
    def ack(self, batch: list[RawMessage]) -> None:
        """The broker may forget these messages now (their batch is committed)."""
        lane_acks = []
        for raw in batch:
            if raw.lane:  # QoS 0 too: the lane counts what the hub holds of its store
                lane_acks.append((raw.store, raw.mid, raw.qos, len(raw.payload)))
            elif raw.qos > 0:
                self.client.ack(raw.mid, raw.qos)
        if lane_acks and self.lanes is not None:
            self.lanes.ack(lane_acks)

    def set_stores(self, store_ids: list[str]) -> None:
        """The stores whose edges may publish (the stores table): one session each (lanes mode)."""
        if self.lanes is not None:
            self.lanes.set_stores(store_ids)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.has_messages = asyncio.Event()
        self.started = True
        if self.lanes is not None:
            self.lanes.start()
        m = self.settings.mqtt
        props = None
        if m.session_expiry_s > 0:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = m.session_expiry_s
        self.client.connect_async(m.host, m.port, m.keepalive_s, clean_start=m.session_expiry_s <= 0,
                                  properties=props)
        self.client.loop_start()

    def ready(self) -> bool:
        """Connected and subscribed, and so is every store's own session (store-sessions mode)."""
        if not self.subscribed.is_set():
            return False
        if self.lanes is None:
            return True
        lanes, subscribed = self.lanes.counts()
        return self.lanes.reconciled and lanes == subscribed

    async def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once ``ready`` (tests and the demo wait for this)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ready():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def leave_shared_group(self, busy: Callable[[], bool], quiet_s: float = 0.5,
                                 timeout_s: float = 20.0) -> None:
        """Leave the shared group: no new messages come to this replica; waits until those already
        received (or in flight to it) are through the consumer (``busy`` false for ``quiet_s``)."""
        if self.lanes is not None:
            self.lanes.leave()
        else:
            self.client.unsubscribe(self.shared_filter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet_since = loop.time()
        while loop.time() < deadline:
            if len(self.fair) > 0 or self._inbox or busy():
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.05)
        log.info("left shared group %s: everything received is committed", self.settings.mqtt.shared_group)

    async def stop(self) -> None:
        self._stopping = True
        if self.settings.mqtt.release_session_on_stop:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the broker forgets this replica now: nothing is kept for it
            self.client.disconnect(properties=props)
        else:
            self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        if self.lanes is not None:
            await asyncio.to_thread(self.lanes.stop, self.settings.mqtt.release_session_on_stop)
        self.metrics.mqtt_connected.set(0)

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
        acked = asyncio.get_running_loop().create_future()
        info = self.client.publish(topic, encode(msg), qos=1, retain=retain, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise MqttUnavailable(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        # Registered before this coroutine yields: paho's on_publish only schedules ``_acked`` in
        # the loop, which runs after this, so an early PUBACK still finds its future.
        self._acks[info.mid] = acked
        try:
            await asyncio.wait_for(acked, timeout)
        except TimeoutError:
            if not info.is_published():
                raise MqttUnavailable(f"broker did not acknowledge {topic} within {timeout:.0f} s") from None
        finally:
            self._acks.pop(info.mid, None)

    def publish_nowait(self, msg: Message, kind: str) -> bool:
        """QoS 1 without waiting for the PUBACK (the ingest loop must not wait a round trip per
        edge per batch); False when it cannot be sent now."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(self.topics.topic(msg.store_id, msg.edge_id, kind), encode(msg), qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_now(self, topic: str, payload: bytes, qos: int = 0) -> bool:
        """Fire and forget (QoS 0) while subscribed; False when it cannot be sent now."""
        if not self.subscribed.is_set() or self._stopping:
            return False
        return self.client.publish(topic, payload, qos=qos).rc == mqtt.MQTT_ERR_SUCCESS

