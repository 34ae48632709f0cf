"""Compact MessagePack forms of the two messages that dominate the traffic: Delta and Birth.

On the wire (``protocol.encode``) they are arrays, not maps: no field names, the seat state as a
small integer (index in ``SEAT_STATES``), a seat's ``since`` as whole milliseconds before the
message's ``ts`` (a small integer) when it has millisecond resolution (the edge rounds seat times
to ms: ``quantise_ms``), else the full float, and a uuid-hex ``boot_id`` as its 16 raw bytes.
Decoding gives back exactly the same Delta/Birth (lossless), so nothing past the codec sees this;
JSON (``encode_json``) keeps the readable map form. Other messages stay maps.

A birth may carry its seat layout by hash only (``Birth.layout_hash``, seats empty): the hub asks
for the full layout with a ``SnapshotRequest(reason="layout")`` when it does not know the hash.
Bench figures: docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from protocol.messages import SEAT_STATES, Birth, ChannelDef, Delta, SeatDef, SeatSnapshot, StateRules

_CODE = {s: i for i, s in enumerate(SEAT_STATES)}
_HEX32 = re.compile(r"[0-9a-f]{32}")
_I32 = 2**31


class WireChange(msgspec.Struct, array_like=True, frozen=True):
    seat_id: str
    state: int  # index in SEAT_STATES
    since: int | float  # int: milliseconds before the message's ts; float: the time itself
    # SeatSnapshot.resumed: a trailing item with a default, so a 3-item change (an older edge,
    # and every change that is not resumed: see _WireChange3) decodes as False, and an older hub,
    # which ignores extra trailing items, still decodes a resumed one
    resumed: bool = False


class _WireChange3(msgspec.Struct, array_like=True, frozen=True):
    """Encoding only: a change that is not resumed, without the flag (msgspec writes every field
    of an array-like struct, defaults too), so the common change costs no byte more than before."""

    seat_id: str
    state: int
    since: int | float


class WireDelta(msgspec.Struct, array_like=True, tag="d", tag_field="kind"):
    v: int
    store_id: str
    edge_id: str
    boot_id: Any  # str, or the 16 raw bytes of a uuid hex (msgspec allows no str | bytes union)
    seq: int
    ts: float
    changes: list[WireChange]
    historical: bool = False


class WireBirth(msgspec.Struct, array_like=True, tag="b", tag_field="kind"):
    v: int
    store_id: str
    edge_id: str
    boot_id: Any  # str, or the 16 raw bytes of a uuid hex (msgspec allows no str | bytes union)
    seq: int
    ts: float
    config_version: int
    layout_hash: str
    seats: list[SeatDef]
    states: list[WireChange]
    channels: list[ChannelDef]
    rules: StateRules


WireMessage = WireDelta | WireBirth


def quantise_ms(t: float) -> float:
    """``t`` rounded to whole milliseconds, so that it travels as a small integer."""
    return round(t * 1000) / 1000


def layout_hash(seats: list[SeatDef]) -> str:
    """Identifies a seat layout (order-independent); the same on the edge and the hub."""
    data = msgspec.msgpack.encode(sorted(seats, key=lambda s: s.seat_id))
    return hashlib.sha256(data).hexdigest()[:16]


def _boot(b: str) -> str | bytes:
    return bytes.fromhex(b) if _HEX32.fullmatch(b) else b


def _unboot(b: Any) -> str:
    if isinstance(b, bytes) and len(b) == 16:
        return b.hex()
    if isinstance(b, str):
        return b
    raise ValueError(f"boot_id must be a string or 16 bytes, not {type(b).__name__}")


def _changes(snaps: list[SeatSnapshot], ts: float) -> list[WireChange]:
    base = round(ts * 1000)
    out: list = []
    for s in snaps:
        ms = round(s.since * 1000)
        off = base - ms
        since: int | float = off if ms / 1000 == s.since and -_I32 < off < _I32 else s.since
        out.append(WireChange(s.seat_id, _CODE[s.state], since, True) if s.resumed
                   else _WireChange3(s.seat_id, _CODE[s.state], since))  # type: ignore[arg-type]
    return out


def _snaps(changes: list[WireChange], ts: float) -> list[SeatSnapshot]:
    base = round(ts * 1000)
    out = []
    for c in changes:
        if not 0 <= c.state < len(SEAT_STATES):
            raise ValueError(f"seat {c.seat_id!r}: state code {c.state} is not one of 0..{len(SEAT_STATES) - 1}")
        since = (base - c.since) / 1000 if isinstance(c.since, int) else c.since
        out.append(SeatSnapshot(c.seat_id, SEAT_STATES[c.state], since, c.resumed))
    return out


def to_wire(msg: Delta | Birth) -> WireMessage:
    if isinstance(msg, Delta):
        return WireDelta(msg.v, msg.store_id, msg.edge_id, _boot(msg.boot_id), msg.seq, msg.ts,
                         _changes(msg.changes, msg.ts), msg.historical)
    return WireBirth(msg.v, msg.store_id, msg.edge_id, _boot(msg.boot_id), msg.seq, msg.ts, msg.config_version,
                     msg.layout_hash, msg.seats, _changes(msg.states, msg.ts), msg.channels, msg.rules)


def from_wire(w: WireMessage) -> Delta | Birth:
    if isinstance(w, WireDelta):
        return Delta(v=w.v, store_id=w.store_id, edge_id=w.edge_id, boot_id=_unboot(w.boot_id), seq=w.seq, ts=w.ts,
                     changes=_snaps(w.changes, w.ts), historical=w.historical)
    return Birth(v=w.v, store_id=w.store_id, edge_id=w.edge_id, boot_id=_unboot(w.boot_id), seq=w.seq, ts=w.ts,
                 config_version=w.config_version, layout_hash=w.layout_hash, seats=w.seats,
                 states=_snaps(w.states, w.ts), channels=w.channels, rules=w.rules)
