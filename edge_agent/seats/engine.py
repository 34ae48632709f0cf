"""All seats of one edge: detections + frames in, seat transitions out (pure, no I/O).

Per ``observe(channel, frame, detections, t)``:

1. the channel's active seats get evidence from ``assign`` (persons, items; one ``SeatIndex``
   per channel, built when the layout is set) plus, when ``seat_rules.use_reference`` is on and
   the seat has a reference, the change score of the frame's *desk zone* crop against it (the
   chair part of the seat is never compared: a chair pushed back is not belongings), and a
   per-seat confidence (``Evidence.confidence``);
2. each seat's ``SeatTracker`` takes ``(t, evidence)``; ``frame is None`` or ``detections is
   None`` means the channel is down or stale: every seat of the channel gets ``None``
   (-> ``unknown``);
3. a seat that is ``occupied`` but shows no person box this sample, while its crop still looks
   like the crop of the last sample where the person was seen (change score under
   ``still_person_threshold``, for at most ``still_person_max_s``), keeps its person evidence
   (``person_held``): a student sitting still whom the detector lost is still there, but a
   student who left changes the crop a lot;
4. after the state update, every seat feeds its reference timer whether it is *confidently
   empty* (state ``empty``, no person, not even a weak one above half the person threshold, no
   items, no change); the reference never learns otherwise, and re-learns only at the store's
   quiet time or on command (see ``reference``).

Sample times must not go back: up to ``stale_after_s`` back is taken as the previous time (a
frame captured just before a wall-clock "no frame" sample), more raises ``OutOfOrderSample``.

Inactive seats (``SeatDef.active == False``) are not tracked at all. New seats (at start or
from ``replace_layout``) start ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from edge_agent.seats.assign import (
    EMPTY_MATCH,
    ChannelsIndex,
    SeatIndex,
    desk_zone,
    evidence_confidence,
    nothing_seen,
)
from edge_agent.seats.drift import ChannelDrift, DriftMeter
from edge_agent.seats.geometry import bounding_box
from edge_agent.seats.reference import (
    Comparison,
    Patch,
    ReferenceRules,
    SeatReference,
    compare,
    seat_patch,
)
from edge_agent.seats.rules import SeatRules as SeatsSection
from edge_agent.seats.rules import quiet_time_s
from edge_agent.seats.state_machine import OutOfOrderSample, SeatTracker
from edge_agent.types import Frame, FrameDetections, Transition
from protocol.messages import Evidence, SeatDef, SeatSnapshot, StateRules

ROTATION_MARGIN = 0.01  # search window beyond the drift tolerance: a 1 degree roll moves far desks ~1%


HIDDEN_DESK = 0.3  # a person box over this share of a desk zone's box hides the desk


def _covered(desk: tuple[float, float, float, float], persons: Sequence[tuple[float, float, float, float]]) -> bool:
    x1, y1, x2, y2 = desk
    area = (x2 - x1) * (y2 - y1)
    if area <= 0:
        return False
    for bx1, by1, bx2, by2 in persons:
        w, h = min(x2, bx2) - max(x1, bx1), min(y2, by2) - max(y1, by1)
        if w > 0 and h > 0 and w * h >= HIDDEN_DESK * area:
            return True
    return False


def reference_rules_for(seat_rules: SeatsSection, zone: str | None = None) -> ReferenceRules:
    """The reference timers an edge config asks for (``[seat_rules]``); the quiet time is read
    in ``zone`` (the store's, ``[edge] timezone``), the box's own zone when None."""
    return ReferenceRules(auto_after_s=seat_rules.reference_after_s,
                          quiet_at_s=quiet_time_s(seat_rules.reference_quiet_time), zone=zone)


@dataclass(frozen=True, slots=True)
class _SeenPerson:
    patch: Patch  # the seat crop when the person was (last) there, sitting still
    t: float  # capture time of the last real person detection
    overlap: float
    box: tuple[float, float, float, float] | None = None  # the person's box at that detection


STILL_IOU = 0.5  # a person box that moved less than this (IoU with the last one) is sitting still


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class SeatEngine:
    def __init__(
        self,
        seats: list[SeatDef],
        rules: StateRules,
        seat_rules: SeatsSection,
        *,
        reference_rules: ReferenceRules | None = None,
        timezone: str | None = None,
        now: float = 0.0,
    ) -> None:
        self.rules = rules
        self.seat_rules = seat_rules
        # The reference timers follow [seat_rules] unless given (tests): one place builds them.
        self.reference_rules = (reference_rules_for(seat_rules, timezone) if reference_rules is None
                                else reference_rules)
        self._seats: dict[str, SeatDef] = {}
        self._trackers: dict[str, SeatTracker] = {}
        self._refs: dict[str, SeatReference] = {}
        self._evidence: dict[str, Evidence] = {}
        self._seen: dict[str, _SeenPerson] = {}  # last look of each seat with its person seen
        self._index: dict[int, SeatIndex] = {}  # per channel, rebuilt with the layout
        self._desk: dict[str, list] = {}  # desk zone polygon per seat
        self._channel_t: dict[int, float] = {}
        # per channel, against the frame its references were taken on (the camera, not the seats:
        # kept across layout changes)
        self._drift: dict[int, DriftMeter] = {}
        self._last_change: dict[str, float] = {}  # per seat, the desk change when last seen unhidden
        self._cluttered: dict[str, list[str]] = {}  # seat -> what its "empty" reference was seen to hold
        self._refused: dict[str, list[str]] = {}  # seat -> items seen when a reference was asked for
        self._now = now
        self.replace_layout(seats, rules, now=now)

    # -- layout --------------------------------------------------------------------------------

    @property
    def seats(self) -> list[SeatDef]:
        return list(self._seats.values())

    def channel_seats(self, channel: int) -> list[SeatDef]:
        return [s for s in self._seats.values() if s.channel == channel]

    def replace_layout(
        self,
        seats: list[SeatDef],
        rules: StateRules | None = None,
        seat_rules: SeatsSection | None = None,
        now: float | None = None,
    ) -> None:
        """Apply a new layout without restarting capture. Seats that still exist keep their
        state; a seat whose polygon, desk zone or channel changed loses its reference (it shows a
        different place now). Validate with ``layout.check_layout`` before calling."""
        if rules is not None:
            self.rules = rules
        if seat_rules is not None:
            self.seat_rules = seat_rules
        start = self._now if now is None else now
        new_seats = {s.seat_id: s for s in seats if s.active}
        desks = {sid: desk_zone(s, self.seat_rules) for sid, s in new_seats.items()}
        trackers: dict[str, SeatTracker] = {}
        refs: dict[str, SeatReference] = {}
        for sid, seat in new_seats.items():
            tr = self._trackers.get(sid)
            if tr is None:
                tr = SeatTracker(sid, self.rules, self.seat_rules, state="unknown", since=start)
            else:
                tr.rules, tr.seat_rules = self.rules, self.seat_rules
            trackers[sid] = tr
            old = self._seats.get(sid)
            ref = self._refs.get(sid)
            if (ref is None or old is None or old.polygon != seat.polygon or old.channel != seat.channel
                    or self._desk.get(sid) != desks[sid]):
                ref = SeatReference(self.reference_rules)
            refs[sid] = ref
        self._seen = {k: v for k, v in self._seen.items()
                      if k in new_seats and new_seats[k].polygon == self._seats[k].polygon}
        # a seat keeps its last seen desk change only while it keeps its reference
        self._last_change = {k: v for k, v in self._last_change.items() if refs.get(k) is self._refs.get(k)}
        self._seats, self._trackers, self._refs, self._desk = new_seats, trackers, refs, desks
        self._desk_box = {sid: bounding_box(d) for sid, d in desks.items()}
        by_channel: dict[int, list[SeatDef]] = {}
        for s in new_seats.values():
            by_channel.setdefault(s.channel, []).append(s)
        self._index = {ch: SeatIndex(ss, self.seat_rules) for ch, ss in by_channel.items()}
        # Per channel its trackers in index order: the per-sample loop needs no dict lookups.
        self._chan_trackers = {ch: [trackers[sid] for sid in ix.ids] for ch, ix in self._index.items()}
        self._channels = ChannelsIndex(self._index)
        self._evidence = {k: v for k, v in self._evidence.items() if k in new_seats}

    # -- state ---------------------------------------------------------------------------------

    def snapshots(self) -> list[SeatSnapshot]:
        return [t.snapshot() for t in self._trackers.values()]

    def restore(self, snapshots: Sequence[SeatSnapshot]) -> list[str]:
        """Continue from stored states. Returns the stored seat ids that are not in the layout
        (ignored; the caller may log them)."""
        unknown_ids = []
        for snap in snapshots:
            tr = self._trackers.get(snap.seat_id)
            if tr is None:
                unknown_ids.append(snap.seat_id)
                continue
            tr.restore(snap.state, snap.since, snap.resumed)
        return unknown_ids

    def clock_reset(self, channel: int, t: float) -> None:
        """The capture clock stepped back (NTP correcting a clock that ran ahead): forget the
        channel's sample times and pending runs, keep every seat's state; ``since`` is capped at
        ``t`` so no duration is counted from the future."""
        self._channel_t.pop(channel, None)
        for s in self.channel_seats(channel):
            tr = self._trackers[s.seat_id]
            tr.restore(tr.state, min(tr.since, t), tr.resumed)

    def tracker(self, seat_id: str) -> SeatTracker:
        return self._trackers[seat_id]

    def reference(self, seat_id: str) -> SeatReference:
        return self._refs[seat_id]

    def last_evidence(self, seat_id: str) -> Evidence | None:
        return self._evidence.get(seat_id)

    # -- samples -------------------------------------------------------------------------------

    def observe(
        self,
        channel: int,
        frame: Frame | None,
        detections: FrameDetections | None,
        t: float,
    ) -> list[Transition]:
        return self.observe_many([(channel, frame, detections, t)])

    def observe_many(
        self, samples: Sequence[tuple[int, Frame | None, FrameDetections | None, float]]
    ) -> list[Transition]:
        """``observe`` for several channels of one tick (channel, frame, detections, t): their
        assignment shares one numpy pass (``assign.ChannelsIndex``). Every sample is checked
        before any seat moves; a bad one raises and changes nothing."""
        times: dict[int, float] = {}
        for channel, frame, detections, t in samples:
            for what, obj in (("frame", frame), ("detections", detections)):
                if obj is not None and obj.channel != channel:
                    raise ValueError(f"{what} of channel {obj.channel} passed as channel {channel}")
            if channel in times:
                raise ValueError(f"channel {channel} twice in one batch")
            last = self._channel_t.get(channel)
            if last is not None and t < last:
                # A caller stamps "no frame" samples with the wall clock and frames with their
                # capture time, so a frame captured just before a "no frame" tick can arrive a
                # moment later with an older time. Within stale_after_s that is the same instant
                # for seat timers: count it at the previous time. Anything older is a clock
                # problem: refuse it here, before any tracker moves, so every seat stays as it was.
                if last - t > self.rules.stale_after_s:
                    raise OutOfOrderSample(
                        f"channel {channel}: sample at {t} is {last - t:.1f} s older than the previous one at {last}"
                    )
                t = last
            times[channel] = t
        # Transitions come out in sample order (channel by channel), as from one observe each.
        per: dict[int, list[Transition]] = {}
        seen: dict[int, list] = {}
        for channel, frame, detections, _t in samples:
            t = times[channel]
            self._channel_t[channel] = t
            if t > self._now:
                self._now = t
            if channel not in self._index:
                continue  # no active seat on this channel
            if frame is None or detections is None:
                out = per[channel] = []
                for sid, tracker in zip(self._index[channel].ids, self._chan_trackers[channel]):
                    self._evidence.pop(sid, None)
                    tr = tracker.update(t, None)
                    if tr is not None:
                        out.append(tr)
            else:
                seen[channel] = detections.detections
        if seen:
            matches = self._channels.match_lists(seen)
            for channel, frame, _d, _t in samples:
                if channel in seen:
                    per[channel] = self._apply(channel, frame, matches[channel], times[channel], seen[channel])
        if len(per) == 1:
            return next(iter(per.values()))
        return [tr for channel, _f, _d, _t in samples if channel in per for tr in per[channel]]

    def _apply(self, channel: int, frame: Frame, matches: list, t: float, detections: Sequence = ()
               ) -> list[Transition]:
        out: list[Transition] = []
        rules = self.seat_rules
        use_ref = rules.use_reference
        hold = rules.still_person_threshold > 0
        evidence = self._evidence
        ids = self._index[channel].ids
        trackers = self._chan_trackers[channel]
        if not use_ref and not hold:  # the pure logic: no image work per seat
            nothing = nothing_seen(rules)  # what every seat without a match gets (one shared object)
            for sid, m, tracker in zip(ids, matches, trackers):
                ev = nothing if m is EMPTY_MATCH else m.evidence(None, rules)
                evidence[sid] = ev
                tr = tracker.update(t, ev)
                if tr is not None:
                    out.append(tr)
            return out
        image = frame.image
        margin = rules.drift_tolerance + ROTATION_MARGIN
        register_above = rules.change_threshold / 2
        seats = self._index[channel].seats
        desks: list[Patch | None] = []
        cmps: list[Comparison | None] = []
        shifted = False
        for s in seats:
            ref = self._refs[s.seat_id]
            # the search window only where there is a reference to search against
            desk = seat_patch(image, self._desk[s.seat_id], margin=margin if ref.ready else 0.0) if use_ref else None
            cmp = ref.compare(desk, register_above) if desk is not None else None
            desks.append(desk)
            cmps.append(cmp)
            shifted = shifted or (cmp is not None and cmp.shifted)
        meter = self._drift.get(channel)
        if meter is not None and use_ref:
            # every few samples, and on every sample where a desk was found away from its place
            meter.add(image, now=shifted)
        drift = None if meter is None else meter.value(channel)
        # The picture moved beyond the search window (the camera was bumped): the references no
        # longer show these desks, so their change says nothing; the seats read from the detector
        # alone until the references are re-taken (status says so) or the camera comes back.
        moved = drift is not None and drift.beyond
        persons = [d.box for d in detections if d.kind == "person"]
        for s, m, tracker, desk, cmp in zip(seats, matches, trackers, desks, cmps):
            sid = s.seat_id
            ref = self._refs[sid]
            score = None if cmp is None or moved else cmp.score
            hidden = cmp is not None and _covered(self._desk_box[sid], persons)
            if hidden:
                # Somebody stands or walks between the camera and this desk (a passer-by, the
                # student leaving): the desk is not seen, so its change is not belongings. Keep
                # what it showed when last seen (None: never seen since the reference).
                score = self._last_change.get(sid) if score is not None else None
            elif score is not None:
                self._last_change[sid] = score
            ev = m.evidence(score, rules)
            if ev.item_count and score is not None and not hidden and score < rules.change_threshold / 2:
                # Item boxes go WITH the desk evidence: the desk looks as it did empty (registered,
                # in view), so a weak box is the detector's mistake (a table read as an umbrella, a
                # chair's back as a backpack), not belongings. Without a reference it counts alone.
                # A sure box counts anyway: that "empty" reference was taken with the thing there.
                if max(d.conf for d in m.items) < rules.item_over_reference:
                    conf = evidence_confidence(ev.person_overlap, ev.person_conf, False, 0.0, score, rules)
                    ev = msgspec.structs.replace(ev, item_count=0, item_classes=[], confidence=conf)
                else:
                    self._cluttered.setdefault(sid, list(ev.item_classes))
            if cmp is not None and cmp.at_edge:  # the desk moved out of the search window: a weak reading
                ev = msgspec.structs.replace(ev, confidence=round(ev.confidence / 2, 4))
            if hold:
                ev = self._hold_still_person(sid, tracker, ev, image, s.polygon, t, margin,
                                             m.person.box if m.person is not None else None)
            evidence[sid] = ev
            tr = tracker.update(t, ev)
            if tr is not None:
                out.append(tr)
            if desk is not None and ref.observe(t, desk, self._confidently_empty(tracker, ev)):
                self._last_change.pop(sid, None)
                self._refused.pop(sid, None)  # a clear desk was seen and learned after all
                self._cluttered.pop(sid, None)
                if channel not in self._drift:  # the first reference learned: the camera's too
                    self._drift[channel] = DriftMeter(image, rules.drift_tolerance)
        return out

    def drift(self, channel: int) -> ChannelDrift | None:
        """How far the channel's picture moved from its references (None: nothing to say yet)."""
        meter = self._drift.get(channel)
        return None if meter is None else meter.value(channel)

    def drifts(self) -> list[ChannelDrift]:
        return [d for ch in sorted(self._drift) if (d := self.drift(ch)) is not None]

    def _hold_still_person(self, sid: str, tracker: SeatTracker, ev: Evidence, image, polygon, t: float,
                           margin: float, box: tuple[float, float, float, float] | None = None) -> Evidence:
        r = self.seat_rules
        if ev.person_overlap >= r.person_overlap_min:
            patch = seat_patch(image, polygon)
            # Remember the look of the seat only with the person well inside it: a passer-by or a
            # student standing up at the seat's edge leaves a crop that looks like the empty seat,
            # and holding that would keep an empty seat "occupied" (study-table-4chairs 0035-0043).
            # Nor while the person moves (the box jumped since the last detection): standing up,
            # walking off past the seat's edge. Such a crop shows the seat nearly empty, and a
            # hold on it would outlast the student (st4-chairs-b with YOLOv5s: C held 14 s after
            # he left for B).
            seen = self._seen.get(sid)
            still = seen is None or seen.box is None or box is None or _iou(seen.box, box) >= STILL_IOU
            if seen is None or (still and ev.person_overlap >= min(2 * r.person_overlap_min, seen.overlap)):
                self._seen[sid] = _SeenPerson(patch, t, ev.person_overlap, box)
            else:
                self._seen[sid] = _SeenPerson(seen.patch, t, seen.overlap, box)
            return ev
        seen = self._seen.get(sid)
        if seen is None or tracker.state != "occupied" or t - seen.t > r.still_person_max_s:
            self._seen.pop(sid, None)
            return ev
        # Registered within the same search window as the desks: a camera that sways or was
        # nudged (within the drift tolerance) does not end the hold; a person who left does
        # (they cannot be registered away). Unregistered, a 1% shift with a 1 degree roll ended
        # it for a half-hidden student the detector had just lost (c9-shifted, COCO SSD: G).
        now = seat_patch(image, polygon, margin=margin)
        if compare(seen.patch, now, r.still_person_threshold / 2).score >= r.still_person_threshold:
            self._seen.pop(sid, None)  # the seat changed: the person moved away or left
            return ev
        # Always compared with the crop of the last real detection, never chained from sample to
        # sample: a chain would follow a slow transition (a stream re-encoding over several
        # frames, a fade) all the way to an empty seat.
        item_conf = 1.0 if ev.item_count else 0.0
        conf = evidence_confidence(seen.overlap, 0.0, True, item_conf, ev.change_score, r)
        return msgspec.structs.replace(ev, person_overlap=seen.overlap, person_held=True, confidence=conf)

    def _confidently_empty(self, tracker: SeatTracker, ev: Evidence) -> bool:
        r = self.seat_rules
        return (
            tracker.state == "empty"
            and ev.person_overlap < r.person_overlap_min / 2
            and ev.item_count == 0
            and (ev.change_score is None or ev.change_score < r.change_threshold)
        )

    def capture_reference(self, channel: int, frame: Frame, t: float | None = None,
                          seat_ids: Sequence[str] | None = None,
                          detections: FrameDetections | None = None) -> list[str]:
        """Take the current frame's desk zones as the empty reference of every seat on the
        channel, or of ``seat_ids`` only (the installer's ``seat-edge reference --channel N``).
        With the frame's ``detections``, a desk where the detector sees belongings or a seated
        person is left without a reference (an "empty" picture with a book in it would hide that
        book, and read its removal as belongings left): ``refused_references`` names them; an
        older reference of that desk is kept. Returns the
        seat ids updated."""
        at = frame.captured_at if t is None else t
        wanted = None if seat_ids is None else set(seat_ids)
        items: dict[str, list[str]] = {}
        if detections is not None and detections.detections and channel in self._index:
            matches = self._channels.match_lists({channel: detections.detections})[channel]
            for sid, m in zip(self._index[channel].ids, matches):
                if m is EMPTY_MATCH:
                    continue
                seen = {d.class_name for d in m.items}
                if m.person is not None:  # a student at the desk: his arms and things are not "empty"
                    seen.add(m.person.class_name)
                if seen:
                    items[sid] = sorted(seen)
        done = []
        for s in self.channel_seats(channel):
            if wanted is not None and s.seat_id not in wanted:
                continue
            if s.seat_id in items:
                self._refused[s.seat_id] = items[s.seat_id]
                continue
            self._refused.pop(s.seat_id, None)
            self._refs[s.seat_id].capture_now(at, seat_patch(frame.image, self._desk[s.seat_id]))
            self._last_change.pop(s.seat_id, None)  # a new reference: nothing seen against it yet
            self._cluttered.pop(s.seat_id, None)
            done.append(s.seat_id)
        if done and (seat_ids is None or channel not in self._drift):
            # new references: the picture is where they are
            self._drift[channel] = DriftMeter(frame.image, self.seat_rules.drift_tolerance)
        return done

    def refused_references(self) -> dict[str, list[str]]:
        """Seats whose reference was not taken because belongings were seen on the desk (the
        classes): clear those desks and take it again."""
        return dict(self._refused)

    def cluttered_references(self) -> dict[str, list[str]]:
        """Seats whose empty reference was taken with belongings on the desk (a sure item box over
        a desk that looks as its reference), with the classes seen: re-take them, desks cleared."""
        return dict(self._cluttered)

    def desk_zone(self, seat_id: str) -> list:
        """The desk polygon the engine uses for a seat (drawn or derived)."""
        return self._desk[seat_id]
