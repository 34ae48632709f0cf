"""Typed messages (msgspec Structs). One tagged union; the tag field is ``kind``.

Every message carries the schema version ``v``. Edge -> hub messages also carry the
session identity (``boot_id`` changes on every agent start) and a per-edge sequence
number ``seq`` that increases by one per message within a boot; the hub dedupes on
(edge_id, boot_id, seq) and asks for a fresh birth when it sees a gap.
All timestamps are UNIX seconds (float, UTC). Seat timestamps are frame capture times.
"""

from __future__ import annotations

from typing import Literal

import msgspec

# 2: Delta and Birth travel in the compact MessagePack form of protocol/wire.py; Birth.layout_hash.
SCHEMA_VERSION = 2

SeatState = Literal["empty", "occupied", "away", "abandoned", "unknown"]
SEAT_STATES: tuple[str, ...] = ("empty", "occupied", "away", "abandoned", "unknown")

Point = tuple[float, float]


class SeatDef(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A seat: a polygon on one channel, coordinates normalised to 0..1."""

    seat_id: str
    channel: int
    polygon: list[Point]
    label: str = ""
    type: str = "desk"
    active: bool = True
    # The desk surface where belongings lie (same coordinates). None: the edge derives it from
    # the seat polygon (``[seat_rules] desk_band``). Belongings are judged on this zone only, so
    # a chair pushed back or turned in the rest of the seat is not read as belongings.
    desk: list[Point] | None = None


class ChannelDef(msgspec.Struct, frozen=True):
    channel: int
    name: str = ""


class StateRules(msgspec.Struct, frozen=True):
    """Per-store seat state timing (seconds of capture time)."""

    enter_s: float = 6.0  # evidence must persist this long before a seat changes state
    exit_s: float = 20.0  # a person must be gone this long before occupied -> away/empty
    abandoned_after_s: float = 600.0  # away longer than this -> abandoned (store limit)
    stale_after_s: float = 15.0  # no fresh frame for this long -> unknown
    # Hysteresis in samples as well (both the seconds and the samples must hold): a person leaning
    # out of frame for one sample never flips a seat, whatever the sample interval.
    enter_samples: int = 1
    exit_samples: int = 1

    def problems(self) -> list[str]:
        """What is wrong with these rules (empty when usable); checked by the edge and the hub."""
        out = [f"{name} must be >= 0 seconds" for name in ("enter_s", "exit_s") if getattr(self, name) < 0]
        out += [f"{name} must be > 0 seconds" for name in ("abandoned_after_s", "stale_after_s")
                if getattr(self, name) <= 0]
        out += [f"{name} must be >= 1" for name in ("enter_samples", "exit_samples") if getattr(self, name) < 1]
        return out


class Evidence(msgspec.Struct, frozen=True):
    """Why a seat is in its state: what the detector and the reference saw."""

    person_overlap: float = 0.0  # fraction of the best person box's (lower part) inside the seat
    person_conf: float = 0.0
    item_count: int = 0
    item_classes: list[str] = []
    change_score: float | None = None  # difference to the empty reference image, 0..1
    # No person box this sample, but the seat looks as it did when one was last seen: a person
    # sitting still that the detector lost (person_overlap carries the last seen value).
    person_held: bool = False
    # How sure this sample's reading (person / belongings / nothing) is, 0..1: person overlap and
    # score for a person; item score or desk change against the empty reference for belongings.
    confidence: float = 0.0


class SeatSnapshot(msgspec.Struct, frozen=True):
    seat_id: str
    state: SeatState
    since: float  # capture time the seat entered this state
    # True: the state was carried over an edge restart and ``since`` is when the edge started
    # watching again, not when the state began (the time before is unknown: nobody watched).
    # Cleared by the seat's next real transition. Default False: an older edge's messages decode.
    resumed: bool = False


class ChannelHealth(msgspec.Struct, frozen=True, omit_defaults=True):
    # omit_defaults: a healthy channel sends only what differs from the defaults (the edge sends
    # one of these per channel every health interval); a field an older edge lacks decodes as its
    # default, a field an older hub lacks is ignored.
    channel: int
    online: bool
    fps: float = 0.0  # frames actually decoded per second
    last_frame_age_s: float | None = None
    latency_ms: float | None = None  # detection latency of the last tick
    reconnects: int = 0
    last_error: str | None = None
    # How far the picture moved from the frame the channel's desk references were taken on, as a
    # fraction of the frame width (None: not measured: no reference yet, or an older edge), and
    # whether that is beyond the edge's tolerance ([seat_rules] drift_tolerance, or a roll over
    # 1.5 degrees): the camera was bumped, redraw the seats or re-take the reference.
    drift: float | None = None
    camera_moved: bool = False


class _EdgeBase(msgspec.Struct, tag_field="kind", kw_only=True):
    v: int = SCHEMA_VERSION
    store_id: str
    edge_id: str
    boot_id: str
    seq: int
    ts: float  # when the edge created the message


class Birth(_EdgeBase, tag="birth"):
    """Sent on every (re)connect and on a snapshot request: the full picture."""

    config_version: int
    seats: list[SeatDef]  # empty with a layout_hash: the layout by hash (the hub asks if it lacks it)
    states: list[SeatSnapshot]
    channels: list[ChannelDef] = []
    rules: StateRules = StateRules()
    layout_hash: str = ""  # protocol.wire.layout_hash of the edge's seats


class Delta(_EdgeBase, tag="delta"):
    """Only the seats that changed since the last delta."""

    changes: list[SeatSnapshot]
    historical: bool = False  # replayed from the outbox after an outage


class Event(_EdgeBase, tag="event"):
    """One seat transition with its evidence."""

    seat_id: str
    from_state: SeatState
    to_state: SeatState
    at: float  # capture time of the frame that confirmed the transition
    evidence: Evidence = Evidence()
    historical: bool = False


class Health(_EdgeBase, tag="health"):
    channels: list[ChannelHealth]
    outbox_depth: int = 0
    outbox_dropped: int = 0
    uptime_s: float = 0.0


class Death(_EdgeBase, tag="death"):
    """Last Will (reason 'lost', registered at connect) or planned shutdown ('shutdown')."""

    reason: Literal["lost", "shutdown"] = "lost"


class ConfigAck(_EdgeBase, tag="config_ack"):
    version: int
    ok: bool
    error: str | None = None


class _HubBase(msgspec.Struct, tag_field="kind", kw_only=True):
    v: int = SCHEMA_VERSION
    store_id: str
    edge_id: str
    ts: float


class Config(_HubBase, tag="config"):
    """Desired ROI config for one edge (retained). Applied only if newer than the current one."""

    version: int
    seats: list[SeatDef]
    rules: StateRules = StateRules()


class SnapshotRequest(_HubBase, tag="snapshot_request"):
    reason: str = "gap"


class Stored(_HubBase, tag="stored"):
    """Hub -> edge, after a commit: these events of this boot are in the hub's database (or were
    already, or were refused for good), so the edge may forget them. The end-to-end
    acknowledgement: a broker PUBACK only says the broker took a message, and a broker restart
    can still lose it (docs/reliability.md). ``seqs``: inclusive ``(first, last)`` ranges."""

    boot_id: str
    seqs: list[tuple[int, int]]


def seq_ranges(seqs: list[int] | set[int]) -> list[tuple[int, int]]:
    """Sorted inclusive ranges covering exactly ``seqs`` ([1, 2, 3, 7] -> [(1, 3), (7, 7)])."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


class FrameRequest(_HubBase, tag="frame_request"):
    """An admin asks for one current picture of a channel (to draw seats on). The edge answers
    with a ``Frame`` whose faces are blurred; it never sends video."""

    request_id: str
    channel: int


class Frame(msgspec.Struct, tag_field="kind", tag="frame", kw_only=True):
    """The edge's answer to a FrameRequest: a JPEG with faces blurred, or why there is none.
    Not part of the sequenced stream (no boot_id/seq, no outbox): it answers a person waiting
    now; if the edge is offline the admin asks again later."""

    v: int = SCHEMA_VERSION
    store_id: str
    edge_id: str
    ts: float
    request_id: str
    channel: int
    jpeg: bytes = b""
    faces_blurred: int = 0
    error: str | None = None


EdgeMessage = Birth | Delta | Event | Health | Death | ConfigAck
HubMessage = Config | SnapshotRequest | Stored
Message = (Birth | Delta | Event | Health | Death | ConfigAck | Config | SnapshotRequest | Stored | FrameRequest
           | Frame)
