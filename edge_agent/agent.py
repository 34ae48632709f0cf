"""The running edge agent: wires capture -> detect -> seats -> state -> store -> uplink.

One loop thread does the work at a fixed sample interval; capture readers and the MQTT client
run their own threads. Hub requests (config, snapshot) arrive on the MQTT thread and are handed
to the loop through a queue, so only the loop touches the seat engine.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import msgspec

from edge_agent.seats.drift import ChannelDrift
from edge_agent.seats.engine import SeatEngine
from edge_agent.seats.state_machine import OutOfOrderSample
from edge_agent.settings import EdgeConfig
from edge_agent.storage.db import EdgeStore
from edge_agent.types import FrameDetections, Transition
from edge_agent.uplink import BirthParts, Uplink
from edge_agent.vision.capture import CaptureManager
from edge_agent.vision.detector import Detector
from edge_agent.vision.face_blur import snapshot_jpeg
from protocol.messages import (
    ChannelDef,
    ChannelHealth,
    Config,
    FrameRequest,
    SeatDef,
    SeatSnapshot,
    StateRules,
)
from protocol.messages import Frame as FrameMsg

log = logging.getLogger("seat_edge.agent")

HEALTH_EVERY_S = 10.0


@dataclass(frozen=True)
class Layout:
    version: int
    seats: list[SeatDef]
    rules: StateRules


def initial_layout(cfg: EdgeConfig, store: EdgeStore) -> Layout:
    """The hub-pushed layout stored in SQLite wins over the TOML file when it is newer."""
    stored = store.get_config()
    if stored is not None and stored.version > cfg.config_version:
        return Layout(stored.version, list(stored.seats), stored.rules)
    return Layout(cfg.config_version, list(cfg.seats), cfg.state)


def resumed_states(stored: list[SeatSnapshot], now: float) -> list[SeatSnapshot]:
    """The stored seat states to continue from after a restart: each seat keeps its state (counts
    stay known), but its timer starts again now. Nobody watched while the box was off, so
    "empty for 13 min" across a restart would count minutes nobody saw. Each is marked
    ``resumed`` so the pages say the time before the restart is unknown (issue 19 point 8)."""
    return [msgspec.structs.replace(s, since=now, resumed=True) for s in stored]


def observe_tick(engine: SeatEngine, batch: list[tuple]) -> list[Transition]:
    """One tick's samples (channel, frame, detections, t) into the seat engine: all channels in
    one ``observe_many`` pass. Where a channel's clock went back (``OutOfOrderSample``), that
    call has changed nothing yet (it checks every sample first), so the tick is redone channel
    by channel and only that channel's seat timers restart (states kept)."""
    try:
        return engine.observe_many(batch)
    except OutOfOrderSample:
        pass
    transitions: list[Transition] = []
    for channel, frame, dets, t in batch:
        try:
            transitions += engine.observe(channel, frame, dets, t)
        except OutOfOrderSample as exc:
            # The wall clock stepped back: start the channel's seat timers again from here
            # (states kept) instead of letting the error end the agent's loop.
            log.warning("clock went back on channel %s (%s); seat timers restart, states kept", channel, exc)
            engine.clock_reset(channel, t)
            transitions += engine.observe(channel, frame, dets, t)
    return transitions


class EdgeAgent:
    def __init__(self, cfg: EdgeConfig, *, detector: Detector | None = None) -> None:
        self.cfg = cfg
        self.store = EdgeStore(cfg.data_path / "edge.sqlite")
        self.layout = initial_layout(cfg, self.store)
        self.engine = SeatEngine(self.layout.seats, self.layout.rules, cfg.seat_rules,
                                 timezone=cfg.edge.timezone, now=time.time())
        restored = self.engine.restore(resumed_states(self.store.load_states(), time.time()))
        if restored:
            log.info("restored %d seat states from storage", len(restored))
        self.detector = detector or Detector(cfg.model)
        self.capture = CaptureManager(cfg.channels)
        self._requests: queue.Queue[Config] = queue.Queue()
        self._frame_requests: queue.Queue[FrameRequest] = queue.Queue()  # answered after the next detection
        self.uplink = Uplink(
            cfg, self.store, birth_factory=self._birth_parts,
            on_config=self._requests.put,  # the uplink answers snapshot requests with a birth itself
            on_frame_request=self._frame_requests.put,
        )
        self.page = None
        if cfg.local_ui.enabled:
            from edge_agent.local_page.server import LocalPage

            self.page = LocalPage(cfg.local_ui, self.store, lambda: self.engine.seats, timezone=cfg.edge.timezone)
        self._engine_lock = threading.Lock()  # the uplink builds births on its own thread
        self._stop = threading.Event()
        self._started_at = time.time()
        self._latency: dict[int, float] = {}
        self._next_health = 0.0
        self.ticks = 0
        self._planned: dict[int, tuple] = {}  # channel -> (layout version, frame size) planned for
        self._cluttered_said: set[str] = set()  # seats whose cluttered reference was logged

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.capture.start()
        self.uplink.start()
        if self.page is not None:
            self.page.start()
            log.info("local page on %s", self.page.url)

    def stop(self) -> None:
        self._stop.set()
        self.capture.stop()
        self.uplink.stop()  # publishes Death(shutdown) and waits for its ack
        if self.page is not None:
            self.page.stop()
        self.store.save_states(self.engine.snapshots())
        self.store.close()

    def run(self, duration_s: float | None = None) -> None:
        """Tick at the sample interval until stopped (or for ``duration_s``)."""
        interval = self.cfg.edge.sample_interval_s
        end = None if duration_s is None else time.monotonic() + duration_s
        while not self._stop.is_set():
            started = time.monotonic()
            if end is not None and started >= end:
                break
            self.tick()
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def request_stop(self) -> None:
        self._stop.set()

    # -- one sample --------------------------------------------------------------------------
    def tick(self) -> list[Transition]:
        self._handle_requests()
        now = time.time()
        frames = self.capture.latest_frames(self.layout.rules.stale_after_s)
        detections: dict[int, FrameDetections] = {}
        if self.cfg.model.crops == "auto":
            self._plan_far_seats(frames)
        if frames:
            for det in self.detector.detect(list(frames.values())):
                detections[det.channel] = det
                self._latency[det.channel] = det.latency_ms
        self._take_requested_reference(frames, detections)
        self._answer_frame_requests(frames, detections)
        batch = []
        for ch in self.cfg.channels:
            frame = frames.get(ch.id)
            batch.append((ch.id, frame, detections.get(ch.id), frame.captured_at if frame is not None else now))
        with self._engine_lock:
            transitions = observe_tick(self.engine, batch)
            cluttered = self.engine.cluttered_references()
        for sid in cluttered.keys() - self._cluttered_said:
            log.warning("seat %s: its empty reference holds %s (a sure detection over a desk that looks as "
                        "its reference); re-take it with the desk cleared: seat-edge reference --channel N",
                        sid, ", ".join(cluttered[sid]))
        self._cluttered_said = set(cluttered)
        if transitions:
            self._record(transitions)
        self.ticks += 1
        channels = self._channel_health()
        self._store_health(channels)  # local status is cheap: every tick
        if now >= self._next_health and health_due(channels, now - self._started_at):
            self._next_health = now + HEALTH_EVERY_S
            self.uplink.publish_health(channels, time.time() - self._started_at)
        return transitions

    def _plan_far_seats(self, frames: dict) -> None:
        # [model] crops = "auto": per channel, extra passes on crops around far seats, decided
        # from the seats' size at the model input (vision/plan.py); again after a layout change
        # or a new frame size (a substream switch).
        for ch, frame in frames.items():
            key = (self.layout.version, frame.image.shape[:2])
            if self._planned.get(ch) != key:
                with self._engine_lock:
                    seats = self.engine.channel_seats(ch)
                plan = self.detector.plan_for(ch, seats, frame.image.shape[1], frame.image.shape[0])
                self._planned[ch] = key
                log.info("far seats: %s", plan.text())

    def _take_requested_reference(self, frames: dict, detections: dict) -> None:
        # `seat-edge reference --channel N` (another process) leaves its request in SQLite.
        req = self.store.meta_get("reference_request")
        if not req:
            return
        frame = frames.get(int(req))
        if frame is None:
            return  # no fresh frame yet: keep the request for the next tick
        seats = self.engine.capture_reference(frame.channel, frame, frame.captured_at,
                                              detections=detections.get(frame.channel))
        self.store.meta_set("reference_request", "")
        log.info("took empty references for channel %s: %s", req, ", ".join(seats) or "none")
        on_channel = {s.seat_id for s in self.engine.channel_seats(frame.channel)}
        for sid, classes in self.engine.refused_references().items():
            if sid in on_channel:
                log.warning("seat %s: no empty reference taken, the detector sees %s there; clear the desk and "
                            "run seat-edge reference --channel %s again", sid, ", ".join(classes), req)

    def _record(self, transitions: list[Transition]) -> None:
        changed: dict[str, SeatSnapshot] = {}
        for tr in transitions:
            self.store.add_event(tr)
            self.uplink.publish_event(tr)
            changed[tr.seat_id] = self.engine.tracker(tr.seat_id).snapshot()
            log.info("seat %s: %s -> %s", tr.seat_id, tr.from_state, tr.to_state)
        snaps = list(changed.values())
        self.store.save_states(snaps)
        self.uplink.publish_delta(snaps)

    def _channel_health(self) -> list[ChannelHealth]:
        with self._engine_lock:
            drifts = self.engine.drifts()
        return channel_health(self.capture.health(), self._latency, drifts)

    def _store_health(self, channels: list[ChannelHealth]) -> None:
        with self._engine_lock:
            drift = self.engine.drifts()
            refused, cluttered = self.engine.refused_references(), self.engine.cluttered_references()
        report = StoredHealth(at=time.time(), channels=channels, hub_connected=self.uplink.connected, drift=drift,
                              refused=refused, cluttered=cluttered)
        self.store.meta_set("health", msgspec.json.encode(report).decode())

    # -- hub requests ------------------------------------------------------------------------
    def _birth_parts(self) -> BirthParts:
        channels = [ChannelDef(channel=c.id, name=c.name) for c in self.cfg.channels]
        with self._engine_lock:
            return (self.layout.version, self.engine.seats, self.engine.snapshots(), channels, self.layout.rules)

    def _handle_requests(self) -> None:
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                return
            self.apply_config(req)

    def _answer_frame_requests(self, frames: dict, detections: dict[int, FrameDetections]) -> None:
        """ROI snapshots for the hub: this tick's picture of the channel, faces blurred (the heads
        of the persons just detected, and Haar faces where available). Never video, never unblurred."""
        while True:
            try:
                req = self._frame_requests.get_nowait()
            except queue.Empty:
                return
            base = dict(store_id=self.cfg.edge.store_id, edge_id=self.cfg.edge.edge_id, ts=time.time(),
                        request_id=req.request_id, channel=req.channel)
            frame = frames.get(req.channel)
            if frame is None:
                known = [c.id for c in self.cfg.channels]
                why = (f"channel {req.channel} has no current picture" if req.channel in known
                       else f"no channel {req.channel} on this edge (channels: {known})")
                answer = FrameMsg(**base, error=why)
            else:
                try:
                    det = detections.get(req.channel)
                    jpeg, n = snapshot_jpeg(frame.image, det.detections if det else ())
                    answer = FrameMsg(**base, jpeg=jpeg, faces_blurred=n)
                except Exception as exc:  # a snapshot must never stop the seat monitoring
                    log.exception("snapshot of channel %d failed", req.channel)
                    answer = FrameMsg(**base, error=f"snapshot failed: {exc}")
            if not self.uplink.publish_frame(answer):
                log.warning("snapshot %s not sent: not connected to the broker", req.request_id)

    def apply_config(self, msg: Config) -> bool:
        from edge_agent.seats.config_apply import evaluate_config

        decision = evaluate_config(self.layout.version, msg, [c.id for c in self.cfg.channels],
                                   store_id=self.cfg.edge.store_id, edge_id=self.cfg.edge.edge_id)
        if decision.action == "ignore":
            return False
        if decision.action == "reject":
            log.warning("config version %d rejected: %s", msg.version, decision.error)
            self.uplink.publish_config_ack(msg.version, False, decision.error)
            return False
        self.store.set_config(msg.version, list(msg.seats), msg.rules)
        with self._engine_lock:
            self.layout = Layout(msg.version, list(msg.seats), msg.rules)
            self.engine.replace_layout(list(msg.seats), msg.rules, now=time.time())
        self.store.save_states(self.engine.snapshots())
        log.info("applied config version %d (%d seats)", msg.version, len(msg.seats))
        self.uplink.publish_config_ack(msg.version, True, None)
        self.uplink.publish_birth()  # the hub needs the new seat set
        return True


STARTUP_GRACE_S = 15.0  # an RTSP channel may take this long to deliver its first frame


def channel_health(health: list[ChannelHealth], latency: dict[int, float | None],
                   drifts: list[ChannelDrift]) -> list[ChannelHealth]:
    """The capture's channel health with what only the agent knows: the last detection latency
    and how far the picture moved from the desk references (so the hub can say "camera moved:
    redraw or re-take" too, not only `seat-edge status`)."""
    by_channel = {d.channel: d for d in drifts}
    out = []
    for h in health:
        d = by_channel.get(h.channel)
        out.append(msgspec.structs.replace(
            h, latency_ms=latency.get(h.channel),
            drift=None if d is None else round(d.size, 4), camera_moved=d is not None and d.beyond))
    return out


def health_due(channels: list[ChannelHealth], uptime_s: float) -> bool:
    """Whether the hub may hear the channels' health yet. Right after start a camera that is still
    connecting is not "down": reporting it would open a channel_down alert that closes 10 s later.
    So the first report waits until every channel is online, one has really failed (an error), or
    ``STARTUP_GRACE_S`` passed."""
    if uptime_s >= STARTUP_GRACE_S:
        return True
    return all(c.online or c.last_error for c in channels)


class StoredHealth(msgspec.Struct, frozen=True):
    """The last channel health the agent wrote, for `seat-edge status` (another process)."""

    at: float
    channels: list[ChannelHealth]
    hub_connected: bool | None = None  # the MQTT session to the hub's broker at that moment
    drift: list[ChannelDrift] = []  # how far each channel's picture moved from its desk references
    # seats whose empty reference was not taken (what the detector saw on the desk), and seats
    # whose reference was seen to hold belongings: the installer re-takes them, desks cleared
    refused: dict[str, list[str]] = {}
    cluttered: dict[str, list[str]] = {}


def health_from_store(store: EdgeStore) -> StoredHealth | None:
    raw = store.meta_get("health")
    return msgspec.json.decode(raw, type=StoredHealth) if raw else None
