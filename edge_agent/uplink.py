"""MQTT uplink with a Sparkplug-like session protocol, on top of the SQLite outbox.

Every outgoing message is encoded, written to the outbox (``EdgeStore.enqueue``) and only then
published (QoS 1); the row is deleted in ``on_publish`` when the broker's PUBACK for its mid
arrives. One sender thread does all publishing, in outbox id order, with at most ``window``
messages in flight (Mosquitto's default receive maximum is 20).

Session protocol (what the hub can rely on):
- ``boot_id``: a new uuid per agent start; ``seq`` counts every message of a boot from 0, in
  creation order (= outbox order). Replayed rows keep their original (boot_id, seq), also
  across a restart, so the hub's dedupe on (edge_id, boot_id, seq) makes re-delivery harmless.
- Last Will: ``Death(reason="lost")``, QoS 1, **retained** so a hub that (re)starts later still
  sees that the edge is gone. It is re-registered before every connect attempt with a fresh seq.
- On every connect, in this order: (1) an empty retained payload on the death topic clears the
  old retained Death (the hub must ignore zero-length payloads); (2) a fresh ``Birth`` with the
  full snapshot, built now by ``birth_factory``; (3) the outbox rows queued before this
  session, in id order, deltas and events flagged ``historical=True``. Their seq is lower than
  the birth's: the hub applies the birth as the live state, files historical rows into history
  (events) without letting them overwrite live state, and does its gap check on live messages
  only (after a birth it expects birth.seq + 1). Queued births and deaths from before are
  superseded by the new birth and deleted, so a stale snapshot or death is never replayed.
- Deltas: one Delta message (and one outbox row) per seat change, so the outbox can collapse
  a seat's older queued delta when a newer one exists (see ``EdgeStore``).
- Planned ``stop()`` publishes ``Death(reason="shutdown")`` (retained), waits for its PUBACK,
  then disconnects cleanly (the broker then does not send the Will).
- A snapshot request from the hub is answered with a fresh Birth.

End-to-end delivery of events (issue 20): a broker's PUBACK only says the broker took a message;
a broker restart (Mosquitto 2.0.11 does not restore shared subscriptions from its persistence
file), a SIGKILL, or a restart while the hub is down can still lose it. So once the hub has shown
that it confirms (one ``Stored`` message ever received: kept in the store's meta, so an older hub
keeps working with the PUBACK rule), an event row is only marked sent at its PUBACK and deleted
when the hub's ``Stored`` (on the edge's own ``stored`` topic) names its (boot_id, seq). Rows
still unconfirmed are sent again on every new session and, while connected, when they wait longer
than ``CONFIRM_TIMEOUT_S``; the hub's dedupe on (store, edge, boot, seq) makes that harmless.

Unacknowledged messages are never left in paho's own memory queue across a reconnect: paho
would resend them with their old payload (not flagged historical, possibly ahead of the new
birth). The outbox is the only queue; ``on_connect`` empties paho's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge_agent.settings import EdgeConfig
from edge_agent.storage.db import EdgeStore, OutboxRow
from edge_agent.types import Transition
from protocol import (
    Birth,
    ChannelDef,
    ChannelHealth,
    Config,
    ConfigAck,
    Death,
    Delta,
    Event,
    Health,
    ProtocolError,
    SeatDef,
    SeatSnapshot,
    SnapshotRequest,
    StateRules,
    Stored,
    TopicSpace,
    decode,
    encode,
)
from protocol.messages import Frame, FrameRequest
from protocol.topics import DEFAULT_PREFIX
from protocol.wire import layout_hash, quantise_ms

log = logging.getLogger(__name__)

# (config_version, seats, states, channels, rules): what a Birth reports.
BirthParts = tuple[int, list[SeatDef], list[SeatSnapshot], list[ChannelDef], StateRules]
_HISTORICAL_KINDS = ("delta", "event")
_CONFIRMED_KINDS = ("event",)  # kept until the hub says it stored them (end to end)
CONFIRM_TIMEOUT_S = 30.0  # a sent event the hub has not confirmed in this long is sent again
HUB_ACKS_META = "hub_confirms_stored"


@dataclass(frozen=True, slots=True)
class UplinkStats:
    connected: bool
    sent: int  # publishes handed to the broker connection (replays included)
    acked: int  # PUBACKs received for outbox rows
    queued: int  # outbox depth now
    dropped: int  # rows the outbox dropped over its bound, plus rows the broker refused
    rejected: int  # PUBACKs with a failure reason code (e.g. not authorised by the broker ACL)
    connects: int
    replayed: int  # rows sent as historical after a reconnect


# Paho reports a dropped socket as "Unspecified error" (128): say what that means to a person.
_DISCONNECT_WORDS = {
    0: "the connection was closed",
    128: "the connection dropped (the broker stopped, or the network or the broker is unreachable)",
    135: "not authorized (check the edge's broker username and password)",
    137: "the broker is busy",
    139: "the broker is shutting down",
    141: "no keep-alive answer in time (network too slow or down)",
    142: "another client took over this session (two agents with the same store and edge id?)",
}


def disconnect_reason(reason_code) -> str:
    """Readable words for a paho disconnect reason code (ReasonCode or int)."""
    value = getattr(reason_code, "value", reason_code)
    words = _DISCONNECT_WORDS.get(value) if isinstance(value, int) else None
    return words or str(reason_code)


def client_id_for(cfg: EdgeConfig) -> str:
    """Stable per edge; a non-default topic prefix (another deployment or a test run sharing the
    broker) gets its own id, since the broker disconnects a client whose id is taken over."""
    base = f"edge-{cfg.edge.store_id}-{cfg.edge.edge_id}"
    if cfg.mqtt.topic_prefix == DEFAULT_PREFIX:
        return base
    return f"{base}-{hashlib.sha1(cfg.mqtt.topic_prefix.encode()).hexdigest()[:8]}"


class Uplink:
    def __init__(
        self,
        cfg: EdgeConfig,
        store: EdgeStore,
        *,
        birth_factory: Callable[[], BirthParts],
        boot_id: str | None = None,
        on_config: Callable[[Config], None] | None = None,
        on_snapshot_request: Callable[[], None] | None = None,
        on_frame_request: Callable[[FrameRequest], None] | None = None,
        window: int = 20,
        reconnect_delay: tuple[int, int] = (1, 30),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.store_id = cfg.edge.store_id
        self.edge_id = cfg.edge.edge_id
        self.topics = TopicSpace(cfg.mqtt.topic_prefix)
        self.boot_id = boot_id or uuid.uuid4().hex
        self._birth_factory = birth_factory
        self._on_config = on_config
        self._on_snapshot_request = on_snapshot_request
        self._on_frame_request = on_frame_request
        self._window = window
        self._clock = clock
        self._topic = {k: self.topics.topic(self.store_id, self.edge_id, k)
                       for k in ("birth", "delta", "event", "health", "death", "config_ack", "config",
                                 "snapshot_request", "frame", "frame_request", "stored")}

        self._seq = 0
        self._seq_lock = threading.Lock()  # seq order == outbox id order
        self._cond = threading.Condition()
        self._connected = False
        self._need_session = False
        self._stopping = False
        self._started = False
        self._kicked = False  # work arrived while the sender was busy
        # mid -> outbox row id (0 for control publishes). Never held while calling paho: paho
        # calls on_publish with its own message mutex held.
        self._map_lock = threading.Lock()
        self._inflight: dict[int, int] = {}
        self._early: dict[int, object] = {}  # mid -> reason code of PUBACKs that beat the mapping
        self._cursor = 0  # highest outbox id handed to this session
        self._watch: dict[int, threading.Event] = {}  # row ids someone waits on (stop's Death)
        self._sent = self._acked = self._rejected = self._connects = self._replayed = 0
        self._sender: threading.Thread | None = None
        # Births carry the layout by hash; the full seats go out when the layout changed since the
        # last full birth of this process, or when the hub asks (snapshot request "layout").
        self._layout_sent = ""
        self._layout_wanted = False
        # End to end (module doc): on once the hub has ever confirmed; the rows in flight that wait
        # for its confirmation after their PUBACK.
        self._hub_confirms = store.meta_get(HUB_ACKS_META) == "1"
        self._confirm_rows: set[int] = set()
        self._next_resend_check = 0.0
        self.confirm_timeout_s = CONFIRM_TIMEOUT_S

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id_for(cfg),
                                  protocol=mqtt.MQTTv5)
        if cfg.mqtt.username:
            self.client.username_pw_set(cfg.mqtt.username, cfg.mqtt.password)
        if cfg.mqtt.tls:
            self.client.tls_set(ca_certs=cfg.mqtt.ca_file)
        self.client.max_inflight_messages_set(window)
        self.client.reconnect_delay_set(*reconnect_delay)
        self.client.on_pre_connect = self._on_pre_connect
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

    # ---- public ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        """Connect in the background (never blocks, retries with backoff while the broker is away)."""
        if self._started:
            return
        self._started = True
        self._sender = threading.Thread(target=self._sender_main, name="uplink-sender", daemon=True)
        self._sender.start()
        self.client.connect_async(self.cfg.mqtt.host, self.cfg.mqtt.port, keepalive=self.cfg.mqtt.keepalive_s,
                                  clean_start=True)
        self.client.loop_start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Publish Death(shutdown), wait up to ``timeout`` for its PUBACK, disconnect.
        Returns whether the broker acknowledged the Death."""
        if not self._started:
            return False
        acked = threading.Event()
        row_id = self._emit("death", lambda seq, ts: Death(reason="shutdown", **self._base(seq, ts)), watch=acked)
        with self._cond:
            self._stopping = True
            self._kicked = True
            self._cond.notify_all()
        if self._connected:
            acked.wait(timeout)
        with self._cond:
            self._started = False
            self._cond.notify_all()
        if self._sender:
            self._sender.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        if not acked.is_set():
            log.warning("uplink stop: Death(shutdown) (outbox id %d) not acknowledged within %.1f s; it stays "
                        "queued and is superseded by the next start's birth", row_id, timeout)
        return acked.is_set()

    def publish_delta(self, changes: list[SeatSnapshot]) -> list[int]:
        """One Delta per seat change (collapsible per seat in the outbox); returns outbox ids."""
        ids = []
        for snap in changes:
            # seat times in ms: they travel as small integers (protocol/wire.py)
            snap = SeatSnapshot(snap.seat_id, snap.state, quantise_ms(snap.since), snap.resumed)
            ids.append(self._emit("delta", lambda seq, ts, s=snap: Delta(changes=[s], **self._base(seq, ts)),
                                  seat_id=snap.seat_id))
        return ids

    def publish_event(self, t: Transition) -> int:
        return self._emit("event", lambda seq, ts: Event(seat_id=t.seat_id, from_state=t.from_state,
                                                        to_state=t.to_state, at=t.at, evidence=t.evidence,
                                                        **self._base(seq, ts)), seat_id=t.seat_id)

    def publish_health(self, channels: list[ChannelHealth], uptime_s: float) -> int:
        return self._emit("health", lambda seq, ts: Health(
            channels=channels, outbox_depth=self.store.depth(), outbox_dropped=self.store.dropped(),
            uptime_s=uptime_s, **self._base(seq, ts)))

    def publish_config_ack(self, version: int, ok: bool, error: str | None = None) -> int:
        return self._emit("config_ack", lambda seq, ts: ConfigAck(version=version, ok=ok, error=error,
                                                                  **self._base(seq, ts)))

    def publish_frame(self, frame: Frame) -> bool:
        """Send a snapshot answer now, QoS 1, outside the outbox (a person is waiting for it;
        offline, they ask again). False when not connected."""
        if not self.connected:
            return False
        info = self.client.publish(self._topic["frame"], encode(frame), qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_birth(self, *, kick: bool = True) -> int:
        """A fresh full snapshot, queued in order (the answer to a snapshot request).

        ``birth_factory`` is called WITHOUT the uplink's locks held (it may take the pipeline's
        locks); if another message was created meanwhile it is called again, so the birth is
        never older than a message queued before it."""
        for attempt in range(3):
            seq_before = self._seq
            parts = self._birth_factory()
            with self._seq_lock:
                if self._seq == seq_before or attempt == 2:
                    return self._emit("birth", lambda seq, ts, p=parts: self._build_birth(p, seq, ts), kick=kick,
                                      locked=True)
        raise AssertionError("unreachable")

    def stats(self) -> UplinkStats:
        return UplinkStats(connected=self._connected, sent=self._sent, acked=self._acked,
                           queued=self.store.depth(), dropped=self.store.dropped() + self._rejected,
                           rejected=self._rejected, connects=self._connects, replayed=self._replayed)

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.store.depth() == 0:
                return True
            time.sleep(0.02)
        return self.store.depth() == 0

    # ---- message creation ------------------------------------------------------------------
    def _base(self, seq: int, ts: float) -> dict:
        return {"store_id": self.store_id, "edge_id": self.edge_id, "boot_id": self.boot_id, "seq": seq, "ts": ts}

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _build_birth(self, parts: BirthParts, seq: int, ts: float) -> Birth:
        version, seats, states, channels, rules = parts
        h = layout_hash(seats)
        full = self._layout_wanted or h != self._layout_sent
        if full:
            self._layout_sent, self._layout_wanted = h, False
        return Birth(config_version=version, seats=seats if full else [], layout_hash=h,
                     states=[SeatSnapshot(st.seat_id, st.state, quantise_ms(st.since), st.resumed) for st in states],
                     channels=channels, rules=rules, **self._base(seq, ts))

    def _emit(self, kind: str, build: Callable[[int, float], msgspec.Struct], seat_id: str | None = None,
              watch: threading.Event | None = None, kick: bool = True, locked: bool = False) -> int:
        if not locked:
            with self._seq_lock:
                return self._emit(kind, build, seat_id, watch, kick, locked=True)
        msg = build(self._next_seq(), self._clock())
        row_id = self.store.enqueue(self._topic[kind], encode(msg), kind, seat_id,
                                    boot_id=self.boot_id if kind in _CONFIRMED_KINDS else None,
                                    seq=msg.seq if kind in _CONFIRMED_KINDS else None)
        if watch is not None:
            self._watch[row_id] = watch
        if kick:
            self._kick()
        return row_id

    def _kick(self) -> None:
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    # ---- paho callbacks (network thread) ---------------------------------------------------
    def _on_pre_connect(self, client: mqtt.Client, userdata) -> None:
        # A fresh Will per connect attempt: its seq is unique, so the hub never dedupes it away.
        with self._seq_lock:
            will = Death(reason="lost", **self._base(self._next_seq(), self._clock()))
        client.will_set(self._topic["death"], encode(will), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.cfg.mqtt.host, self.cfg.mqtt.port, reason_code)
            return
        self._drop_paho_queue(client)
        client.subscribe([(self._topic["config"], 1), (self._topic["snapshot_request"], 1),
                          (self._topic["frame_request"], 1), (self._topic["stored"], 1)])
        with self._cond:
            self._connected = True
            self._need_session = True
            self._connects += 1
            self._kicked = True
            self._cond.notify_all()
        log.info("uplink connected to %s:%d (boot %s)", self.cfg.mqtt.host, self.cfg.mqtt.port, self.boot_id)

    @staticmethod
    def _drop_paho_queue(client: mqtt.Client) -> None:
        # paho keeps unacked QoS 1 messages and resends them right after on_connect; the outbox
        # replays them instead (flagged historical, after the birth). Private paho state:
        # checked by tests/test_uplink.py's outage test (no duplicates, all historical).
        lock = getattr(client, "_out_message_mutex", None)
        msgs = getattr(client, "_out_messages", None)
        if lock is None or msgs is None:
            log.warning("paho internals changed: cannot clear its resend queue; duplicates may be sent")
            return
        with lock:
            msgs.clear()
            client._inflight_messages = 0

    def _on_disconnect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            was = self._connected
            self._connected = False
            self._cond.notify_all()
        if was and not self._stopping:
            log.warning("uplink lost the broker at %s:%d: %s; queuing in the outbox (depth %d)", self.cfg.mqtt.host,
                        self.cfg.mqtt.port, disconnect_reason(reason_code), self.store.depth())

    def _on_publish(self, client: mqtt.Client, userdata, mid: int, reason_code, properties) -> None:
        with self._map_lock:
            row_id = self._inflight.pop(mid, None)
            if row_id is None:
                self._early[mid] = reason_code
                return
        self._acked_row(row_id, reason_code)

    def _acked_row(self, row_id: int, reason_code) -> None:
        if row_id:
            if reason_code is not None and getattr(reason_code, "is_failure", False):
                # Retrying cannot help (e.g. ACL): drop it, count it, say so.
                self._rejected += 1
                log.error("broker refused outbox message %d (%s); dropped", row_id, reason_code)
            else:
                self._acked += 1
                with self._map_lock:
                    confirm = row_id in self._confirm_rows
                    self._confirm_rows.discard(row_id)
                if confirm and self.store.mark_sent(row_id):
                    self._kick()
                    return  # kept until the hub's Stored (module doc)
            self.store.remove(row_id)
            ev = self._watch.pop(row_id, None)
            if ev is not None:
                ev.set()
        self._kick()

    def _on_message(self, client: mqtt.Client, userdata, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        if not message.payload:
            return  # a cleared retained message
        try:
            if topic == self._topic["config"]:
                msg = decode(message.payload, expect=Config)
                if self._on_config is not None:
                    self._on_config(msg)
            elif topic == self._topic["frame_request"]:
                req = decode(message.payload, expect=FrameRequest)
                if self._on_frame_request is not None:
                    self._on_frame_request(req)
            elif topic == self._topic["stored"]:
                ack = decode(message.payload, expect=Stored)
                n = self.store.confirm(ack.boot_id, ack.seqs)
                if not self._hub_confirms:
                    self._hub_confirms = True
                    self.store.meta_set(HUB_ACKS_META, "1")
                    log.info("the hub confirms stored events: events now stay queued until it does")
                log.debug("hub confirmed %d event(s) of boot %s", n, ack.boot_id)
            elif topic == self._topic["snapshot_request"]:
                req = decode(message.payload, expect=SnapshotRequest)
                if req.reason == "layout":
                    self._layout_wanted = True  # the hub does not know our layout's hash
                self.publish_birth()
                if self._on_snapshot_request is not None:
                    self._on_snapshot_request()
        except ProtocolError as exc:
            log.warning("ignored malformed message on %s: %s", topic, exc)
        except Exception:
            log.exception("handler for %s failed", topic)

    # ---- sender thread ---------------------------------------------------------------------
    def _sender_main(self) -> None:
        while True:
            with self._cond:
                if not self._kicked:
                    self._cond.wait(timeout=0.5)  # woken by enqueue, ack, connect; timeout re-checks
                self._kicked = False
                if not self._started:
                    return
                if not self._connected:
                    continue
                new_session = self._need_session
                self._need_session = False
            try:
                if new_session:
                    self._start_session()
                self._resend_unconfirmed()
                self._pump()
            except Exception:
                log.exception("uplink sender failed; retrying")
                time.sleep(0.5)

    def _start_session(self) -> None:
        with self._map_lock:
            self._inflight.clear()
            self._early.clear()
        # A Death queued by our own stop() in progress must still go out.
        stale = self.store.remove_kinds(("birth",) if self._stopping else ("birth", "death"))
        if stale:
            log.info("dropped %d queued birth/death messages superseded by the new birth", stale)
        with self._map_lock:
            self._confirm_rows.clear()
        resent = self.store.unsend()  # what the hub never confirmed goes again, after the birth
        if resent:
            log.info("sending again %d event(s) the hub has not confirmed", resent)
        self.store.mark_historical(_HISTORICAL_KINDS)
        self._cursor = 0
        self._publish(self._topic["death"], b"", 0, retain=True)  # clear the retained Death
        birth_id = self.publish_birth(kick=False)
        rows = self.store.pending(limit=1, after_id=birth_id - 1)
        if rows and rows[0].id == birth_id:
            self._publish_row(rows[0])

    def _pump(self) -> None:
        while self._connected:
            with self._map_lock:
                room = self._window - len(self._inflight)
                busy = set(self._inflight.values())
            if room <= 0:
                return
            rows = self.store.pending(limit=room, after_id=self._cursor)
            if not rows:
                return
            for row in rows:
                self._cursor = row.id
                if row.id in busy:
                    continue
                if not self._publish_row(row):
                    return

    def _resend_unconfirmed(self) -> None:
        """Connected, but some events waited too long for the hub's confirmation (a broker that
        restarted without the hub's subscription, a hub that was down): send them again."""
        now = self._clock()
        if not self._hub_confirms or now < self._next_resend_check:
            return
        self._next_resend_check = now + min(5.0, self.confirm_timeout_s)
        n = self.store.unsend(older_than=now - self.confirm_timeout_s)
        if n:
            log.warning("%d event(s) not confirmed by the hub within %.0f s: sending them again", n,
                        self.confirm_timeout_s)
            self._cursor = 0

    def _publish_row(self, row: OutboxRow) -> bool:
        if self._hub_confirms and row.kind in _CONFIRMED_KINDS:
            with self._map_lock:
                self._confirm_rows.add(row.id)
        payload = row.payload
        if row.historical and row.kind in _HISTORICAL_KINDS:
            try:
                msg = decode(payload)
                payload = encode(msgspec.structs.replace(msg, historical=True))
                self._replayed += 1
            except ProtocolError as exc:  # our own row, unreadable: do not block the queue on it
                log.error("outbox row %d is not a valid message (%s); sending as stored", row.id, exc)
        return self._publish(row.topic, payload, row.id, retain=row.kind == "death")

    def _publish(self, topic: str, payload: bytes, row_id: int, *, retain: bool = False) -> bool:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        self._sent += 1
        with self._map_lock:
            early = info.mid in self._early
            reason = self._early.pop(info.mid, None)
            if not early:
                self._inflight[info.mid] = row_id
        if early:
            self._acked_row(row_id, reason)
        # NO_CONN: the connection just went; the row stays queued for the next session.
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
