"""What the hub sends to a browser over a store's WebSocket (and relays between hub replicas).

One tagged union, tag field ``type``, always JSON (a page reads it). The shapes are the ones the
dashboard has always read (``ui/static/hub/live.js``): this module only gives them a name and a
type, so that the message is built in one place and checked when it comes back from the broker.

- ``hello``: first message on a new connection.
- ``update``: committed seat states, edge status and channel health of one store, changed
  since the last update (only what changed; the page keeps the rest).
- ``alert``: an alert of the store opened or closed.
- ``kiosk``: the store's kiosk link known or not, and kiosk seats that changed (issue 18).

Timestamps are UNIX seconds (float, UTC), as on the edge wire.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from protocol.messages import SeatState

AlertEvent = Literal["opened", "closed"]


class LiveSeat(msgspec.Struct, frozen=True, omit_defaults=True):
    """A seat's committed state and since when (capture time of the frame that showed it)."""

    seat_id: str
    state: SeatState
    since: float
    # since = when the store box restarted, the time before is unknown (SeatSnapshot.resumed);
    # the page says so next to the timer. Left out when False (omit_defaults: the usual update
    # is unchanged) and a replica of the previous release decodes it.
    resumed: bool = False


class LiveEdge(msgspec.Struct, frozen=True):
    edge_id: str
    online: bool
    last_seen: float | None


class LiveChannel(msgspec.Struct, frozen=True):
    edge_id: str
    channel: int
    online: bool
    fps: float


class Hello(msgspec.Struct, frozen=True, tag="hello", tag_field="type"):
    store_id: str


class Update(msgspec.Struct, frozen=True, tag="update", tag_field="type"):
    store_id: str
    seats: list[LiveSeat] = []
    edges: list[LiveEdge] = []
    channels: list[LiveChannel] = []


class AlertChange(msgspec.Struct, frozen=True, tag="alert", tag_field="type"):
    event: AlertEvent
    id: int
    store_id: str
    seat_id: str | None
    edge_id: str | None
    kind: str
    priority: str
    message: str
    opened_at: float
    closed_at: float | None
    delivered: bool


class LiveKioskSeat(msgspec.Struct, frozen=True):
    kiosk_seat_id: str
    state: str  # free | sold | in_use
    remaining_s: int | None = None


class KioskChange(msgspec.Struct, frozen=True, tag="kiosk", tag_field="type"):
    """The store's kiosk (seat system) link, issue 18: whether its states are known now, and the
    seats whose kiosk state or remaining time changed. No customer data: the hub has none."""

    store_id: str
    known: bool
    seats: list[LiveKioskSeat] = []


LiveMessage = Hello | Update | AlertChange | KioskChange

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LiveMessage)


def encode_live(msg: LiveMessage) -> bytes:
    return _encoder.encode(msg)


def decode_live(data: bytes | str) -> LiveMessage:
    """Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` for anything else."""
    return _decoder.decode(data)
