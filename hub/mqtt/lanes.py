"""One MQTT session per store ("lanes"), all read by one I/O thread.

Why (issue 20, item 5; docs/adr/0006-store-lanes.md): the broker queues a session's messages in
one FIFO. With one hub session for every store, a store that floods puts its backlog in front of
everyone else's messages, and no fairness inside the hub can reach past it (100k events from one
store moved another's median latency from 0.01 s to 16.8 s). With a session per store, each
store's backlog waits in its own queue at the broker, bounded per client by
``max_queued_messages`` / ``max_queued_bytes`` (packaging/mosquitto-seat.conf); beyond that the
broker drops, and the edge's end-to-end delivery (events stay in its outbox until the hub's
``Stored``) sends again what was dropped.

- Each lane subscribes, in the hub's secret shared-subscription group, to its store's edge kinds
  only (``$share/G/PREFIX/STORE/+/KIND``), so hub replicas still split every store's load and the
  hub's own messages (config, stored, ...) do not come back to it.
- What the hub holds of one store (received, not yet committed and acknowledged) is bounded by
  the hub itself: at ``mqtt.store_inflight`` messages or ``mqtt.store_inflight_bytes`` it stops
  reading that store's socket until its batch is committed (TCP backpressure; the other lanes
  keep being read). The broker's own in-flight limit (Receive Maximum, ``max_inflight_messages``)
  is asked for too, but Mosquitto 2.0.11 does not keep it once messages are queued: each PUBACK
  releases up to that many more (measured: 10 per PUBACK with a limit of 10), so the hub cannot
  rely on it.
- One thread, one ``selectors`` loop for every lane's socket (paho's external-loop API:
  ``loop_read`` / ``loop_write`` / ``loop_misc`` and its socket callbacks), not paho's thread per
  client: 500 stores would be 500 threads. Every paho call of a lane happens on this thread; the
  event loop posts its acks and changes as commands. Blocking TCP connects run in a small pool,
  so a broker that does not answer cannot stall the lanes that are up.
- The store list comes from the hub's ``stores`` table (``seat-hub store add``; see the
  consumer's poll); lanes open and close as it changes. A lane's client id is the hub's (secret)
  id plus the store id, so a restarted hub resumes each store's kept session.
"""

from __future__ import annotations

import collections
import logging
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.settings import HubSettings
from hub.system.metrics import HubMetrics
from protocol import TopicSpace
from protocol.topics import EDGE_KINDS

log = logging.getLogger("hub.mqtt")

# A lane whose connection failed waits this long before the next try, doubling up to the maximum.
RETRY_MIN_S, RETRY_MAX_S = 1.0, 30.0


def raise_fd_limit(wanted: int) -> int:
    """One socket per store: lift the soft limit of open files up to ``wanted`` (at most the hard
    limit); a soft limit of 1024 would end at ~1000 stores, with the database pool and HTTP
    clients on top. Returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft


class _Lane:
    __slots__ = ("store_id", "client", "state", "next_try", "delay", "sock", "mask", "subscribed", "held",
                 "held_bytes", "reading", "writing")

    def __init__(self, store_id: str, client: mqtt.Client) -> None:
        self.store_id = store_id
        self.client = client
        self.state = "down"  # down (try at next_try) | connecting (in the pool) | up | closing
        self.next_try = 0.0
        self.delay = RETRY_MIN_S
        self.sock: socket.socket | None = None
        self.mask = 0  # what the selector watches now (0: not registered)
        self.subscribed = False
        self.held = 0  # messages handed to the hub and not yet released (committed) by it
        self.held_bytes = 0
        self.reading = True  # false while the hub holds this store's limit
        self.writing = False  # paho has bytes to write


class StoreLanes:
    """The lanes of one hub process. ``deliver(store_id, message)`` is called on the I/O thread
    for every message and must not block."""

    def __init__(self, settings: HubSettings, metrics: HubMetrics, client_id: str,
                 deliver: Callable[[str, mqtt.MQTTMessage], None]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topics = TopicSpace(settings.mqtt.topic_prefix)
        self.client_id = client_id
        self.deliver = deliver
        self._lanes: dict[str, _Lane] = {}
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._cmds: collections.deque[Callable[[], None]] = collections.deque()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="mqtt-lane-connect")
        self._thread = threading.Thread(target=self._run, name="mqtt-lanes", daemon=True)
        self._stopping = False
        self._joined = False
        self._again: set[_Lane] = set()  # lanes with TLS bytes left to read
        self.reconciled = False

    # -- any thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _post(self, fn: Callable[[], None]) -> None:
        self._cmds.append(fn)
        if threading.current_thread() is not self._thread:
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):  # the pipe is full: the thread is awake anyway
                pass

    def set_stores(self, store_ids: Iterable[str]) -> None:
        wanted = set(store_ids)
        self._post(lambda: self._reconcile(wanted))

    def ack(self, items: list[tuple[str, int, int, int]]) -> None:
        """(store, mid, qos, payload size) of every message the hub is done with (committed, or
        dropped): PUBACK on their lane (QoS 1) and room for more of that store."""
        self._post(lambda: self.ack_now(items))

    def leave(self) -> None:
        """Unsubscribe every lane: no new messages come to this replica."""
        self._post(lambda: [self._unsubscribe(lane) for lane in self._lanes.values()])

    def counts(self) -> tuple[int, int]:
        """(lanes, lanes subscribed)."""
        lanes = list(self._lanes.values())
        return len(lanes), sum(1 for lane in lanes if lane.subscribed)

    def subscribed(self, store_id: str) -> bool:
        lane = self._lanes.get(store_id)
        return lane is not None and lane.subscribed

    def stop(self, release: bool, timeout: float = 5.0) -> None:
        """Disconnect every lane (ending its session at the broker when ``release``) and stop."""
        if self._joined:
            return
        done = threading.Event()

        def bye() -> None:
            for lane in list(self._lanes.values()):
                self._close(lane, release)
            done.set()

        self._post(bye)
        done.wait(timeout)
        self._stopping = True
        self._post(lambda: None)
        self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._joined = True

    # -- the I/O thread ----------------------------------------------------------------------
    def _run(self) -> None:
        last_misc = 0.0
        while not self._stopping:
            now = time.monotonic()
            timeout = 1.0
            for lane in self._lanes.values():
                if lane.state == "down":
                    timeout = min(timeout, max(0.0, lane.next_try - now))
            again, self._again = self._again, set()
            try:
                events = self._sel.select(0 if again else timeout)
            except OSError:  # a socket closed under us: the next round sees the lane down
                events = []
            for lane in again:  # TLS: bytes already decrypted wait in the socket, not in the kernel
                if lane.sock is not None and not any(key.data is lane for key, _ in events):
                    self._read(lane)
            for key, mask in events:
                lane = key.data
                if lane is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    continue
                try:
                    if mask & selectors.EVENT_READ:
                        self._read(lane)
                    if mask & selectors.EVENT_WRITE and lane.sock is not None:
                        lane.client.loop_write()
                except Exception:  # never let one lane end the thread that reads them all
                    log.exception("store %s: MQTT I/O failed", lane.store_id)
            while self._cmds:
                try:
                    self._cmds.popleft()()
                except Exception:
                    log.exception("MQTT lanes: command failed")
            now = time.monotonic()
            if now - last_misc >= 0.5:
                last_misc = now
                for lane in list(self._lanes.values()):
                    if lane.state == "up":
                        lane.client.loop_misc()  # keepalive pings; notices a dead connection
                        if lane.sock is None:
                            self._lost(lane)
            for lane in list(self._lanes.values()):
                if lane.state == "down" and lane.next_try <= now:
                    self._connect(lane)
        self._sel.close()

    def _reconcile(self, wanted: set[str]) -> None:
        for store_id in wanted - self._lanes.keys():
            try:
                self.topics.topic(store_id, "x", "birth")  # a valid id (the stores table says so anyway)
            except ValueError:
                log.warning("store id %r cannot be a topic level: no MQTT session for it", store_id)
                continue
            self._lanes[store_id] = self._new_lane(store_id)
            log.info("store %s: opening its MQTT session", store_id)
        for store_id in self._lanes.keys() - wanted:
            lane = self._lanes.pop(store_id)
            log.info("store %s removed: closing its MQTT session", store_id)
            self._close(lane, release=True)
        raise_fd_limit(len(self._lanes) * 2 + 256)
        self.metrics.store_sessions.set(len(self._lanes))
        self.reconciled = True  # the store list has been applied once

    def _new_lane(self, store_id: str) -> _Lane:
        m = self.settings.mqtt
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.client_id}-{store_id}",
                        protocol=mqtt.MQTTv5, manual_ack=True)
        lane = _Lane(store_id, c)
        if m.username:
            c.username_pw_set(m.username, m.password)
        if m.tls:
            c.tls_set(ca_certs=m.ca_file)
        c.on_connect = lambda cl, u, f, rc, p: self._on_connect(lane, rc)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self._on_subscribe(lane, rcs)
        c.on_disconnect = lambda cl, u, f, rc, p: self._on_disconnect(lane, rc)
        c.on_message = lambda cl, u, msg: self._received(lane, msg)
        c.on_socket_open = lambda cl, u, sock: self._post(lambda: self._opened(lane, sock))
        c.on_socket_close = lambda cl, u, sock: self._closed_socket(lane, sock)
        c.on_socket_register_write = lambda cl, u, sock: self._want_write(lane, True)
        c.on_socket_unregister_write = lambda cl, u, sock: self._want_write(lane, False)
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = m.store_inflight
        if m.session_expiry_s > 0:
            props.SessionExpiryInterval = m.session_expiry_s
        c.connect_async(m.host, m.port, m.keepalive_s, clean_start=m.session_expiry_s <= 0, properties=props)
        return lane

    def _read(self, lane: _Lane) -> None:
        """Read a burst of packets, while this store is within its limit. paho reads one packet
        per ``loop_read`` here (nothing of ours is in flight on a lane)."""
        for _ in range(64):
            if not lane.reading or lane.sock is None:
                return
            before = lane.held
            lane.client.loop_read()
            if lane.sock is None:
                return
            pending = getattr(lane.sock, "pending", None)
            if lane.held == before and not (pending and pending()):
                return  # the socket is drained (or the packet was not a message)
        pending = getattr(lane.sock, "pending", None)
        if lane.reading and pending and pending():
            self._again.add(lane)

    def _received(self, lane: _Lane, msg: mqtt.MQTTMessage) -> None:
        lane.held += 1
        lane.held_bytes += len(msg.payload)
        m = self.settings.mqtt
        if lane.reading and (lane.held >= m.store_inflight or lane.held_bytes >= m.store_inflight_bytes):
            lane.reading = False  # the hub holds this store's share: the broker keeps the rest
            self._apply_mask(lane)
        self.deliver(lane.store_id, msg)

    def _apply_mask(self, lane: _Lane) -> None:
        """Watch the lane's socket for what it needs now (reading within its limit, writing when
        paho has bytes queued); not at all when neither."""
        if lane.sock is None:
            return
        mask = (selectors.EVENT_READ if lane.reading else 0) | (selectors.EVENT_WRITE if lane.writing else 0)
        if mask == lane.mask:
            return
        try:
            if lane.mask == 0:
                self._sel.register(lane.sock, mask, lane)
            elif mask == 0:
                self._sel.unregister(lane.sock)
            else:
                self._sel.modify(lane.sock, mask, lane)
            lane.mask = mask
        except (KeyError, ValueError, OSError):
            pass

    def _connect(self, lane: _Lane) -> None:
        lane.state = "connecting"

        def attempt() -> None:
            try:
                lane.client.reconnect()  # blocking TCP (+TLS) connect; CONNECT is queued
            except Exception as exc:
                err = exc  # (the name ``exc`` ends with the except block)
                self._post(lambda: self._failed(lane, err))

        self._pool.submit(attempt)

    def _failed(self, lane: _Lane, exc: Exception) -> None:
        if lane.state != "connecting":
            return
        if lane.delay == RETRY_MIN_S:
            log.warning("store %s: cannot reach the broker (%s); retrying", lane.store_id, exc)
        lane.state = "down"
        lane.next_try = time.monotonic() + lane.delay
        lane.delay = min(RETRY_MAX_S, lane.delay * 2)

    def _opened(self, lane: _Lane, sock) -> None:
        if lane.state != "connecting" or self._lanes.get(lane.store_id) is not lane:
            lane.client._sock_close()  # removed or stopped meanwhile
            return
        lane.sock = sock
        lane.state = "up"
        lane.mask = 0
        lane.writing = lane.client.want_write()
        self._apply_mask(lane)

    def _want_write(self, lane: _Lane, on: bool) -> None:
        if threading.current_thread() is not self._thread:
            self._post(lambda: self._want_write(lane, on))
            return
        lane.writing = on
        self._apply_mask(lane)

    def _closed_socket(self, lane: _Lane, sock) -> None:
        if threading.current_thread() is not self._thread:
            self._post(lambda: self._closed_socket(lane, sock))
            return
        if lane.sock is not None and lane.sock is sock:
            if lane.mask:
                try:
                    self._sel.unregister(sock)
                except (KeyError, ValueError, OSError):
                    pass
            lane.mask = 0
            lane.sock = None
            lane.subscribed = False

    def _lost(self, lane: _Lane) -> None:
        if lane.state == "up":
            lane.state = "down"
            lane.next_try = time.monotonic() + lane.delay
            lane.delay = min(RETRY_MAX_S, lane.delay * 2)
        self._count_subscribed()

    def _on_connect(self, lane: _Lane, rc) -> None:
        if rc.is_failure:
            log.error("store %s: broker refused the session: %s", lane.store_id, rc)
            return
        lane.delay = RETRY_MIN_S
        g = self.settings.mqtt.shared_group
        p = self.topics.prefix
        lane.client.subscribe([(f"$share/{g}/{p}/{lane.store_id}/+/{kind}", 1) for kind in EDGE_KINDS])

    def _on_subscribe(self, lane: _Lane, reason_codes) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            log.error("store %s: subscription refused: %s", lane.store_id, bad)
            return
        lane.subscribed = True
        self._count_subscribed()

    def _on_disconnect(self, lane: _Lane, rc) -> None:
        lane.subscribed = False
        if lane.state == "up" and not self._stopping:
            log.warning("store %s: MQTT session disconnected (%s); reconnecting", lane.store_id, rc)
        self._lost(lane)

    def _count_subscribed(self) -> None:
        self.metrics.store_sessions_subscribed.set(sum(1 for lane in self._lanes.values() if lane.subscribed))

    def ack_now(self, items: list[tuple[str, int, int, int]]) -> None:
        """On the I/O thread only."""
        m = self.settings.mqtt
        touched = set()
        for store_id, mid, qos, size in items:
            lane = self._lanes.get(store_id)
            if lane is None:
                continue
            lane.held = max(0, lane.held - 1)
            lane.held_bytes = max(0, lane.held_bytes - size)
            touched.add(lane)
            if qos > 0 and lane.sock is not None:
                lane.client.ack(mid, qos)
        for lane in touched:
            if not lane.reading and lane.held < m.store_inflight and lane.held_bytes < m.store_inflight_bytes:
                lane.reading = True
                self._apply_mask(lane)
                self._again.add(lane)  # what paho or TLS already buffered is not seen by select

    def _unsubscribe(self, lane: _Lane) -> None:
        if lane.sock is not None:
            g, p = self.settings.mqtt.shared_group, self.topics.prefix
            lane.client.unsubscribe([f"$share/{g}/{p}/{lane.store_id}/+/{kind}" for kind in EDGE_KINDS])

    def _close(self, lane: _Lane, release: bool) -> None:
        """Disconnect (the DISCONNECT is written now: this thread may stop right after)."""
        prev = lane.state
        lane.state = "closing"
        lane.subscribed = False
        if prev != "up" or lane.sock is None:
            return
        props = None
        if release:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0  # the broker forgets this store's session of this hub
        lane.client.disconnect(properties=props)
        for _ in range(10):
            if lane.sock is None or not lane.client.want_write():
                break
            lane.client.loop_write()
        if lane.sock is not None:
            lane.client._sock_close()
        self._count_subscribed()
