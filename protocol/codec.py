"""Encode/decode messages. MessagePack on the wire; JSON where a human must read it.

Anything malformed, foreign, or of another schema version raises ``ProtocolError`` and
nothing else, so a consumer can log it and keep going.
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.messages import SCHEMA_VERSION, Birth, Delta, Message
from protocol.wire import WireMessage, from_wire, to_wire

_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder(Message)
_wire_decoder = msgspec.msgpack.Decoder(WireMessage)
_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(Message)


class ProtocolError(ValueError):
    """A payload that is not a valid message of this schema version."""


def _check(msg: Any) -> Message:
    if msg.v != SCHEMA_VERSION:
        raise ProtocolError(f"unsupported schema version {msg.v} (this side speaks {SCHEMA_VERSION})")
    return msg


def encode(msg: Message) -> bytes:
    if isinstance(msg, (Delta, Birth)):
        return _msgpack_encoder.encode(to_wire(msg))  # compact array form (protocol/wire.py)
    return _msgpack_encoder.encode(msg)


def decode(data: bytes | bytearray | memoryview, expect: type | tuple[type, ...] | None = None) -> Message:
    """Decode a MessagePack payload; ``expect`` restricts the accepted message kinds."""
    try:
        # MessagePack arrays (fixarray 0x90-0x9f, array16/32 0xdc/0xdd) are the compact forms
        first = data[0] if len(data) else 0
        if 0x90 <= first <= 0x9F or first in (0xDC, 0xDD):
            msg = from_wire(_check(_wire_decoder.decode(data)))
        else:
            msg = _msgpack_decoder.decode(data)
    except ProtocolError:
        raise
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise ProtocolError(f"malformed payload: {exc}") from None
    except Exception as exc:  # e.g. recursion/overflow in hostile input
        raise ProtocolError(f"undecodable payload: {exc!r}") from None
    _check(msg)
    if expect is not None and not isinstance(msg, expect):
        raise ProtocolError(f"unexpected message kind {type(msg).__name__}")
    return msg


def encode_json(msg: Message) -> bytes:
    return _json_encoder.encode(msg)


def decode_json(data: bytes | str) -> Message:
    try:
        msg = _json_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(f"malformed payload: {exc}") from None
    except Exception as exc:
        raise ProtocolError(f"undecodable payload: {exc!r}") from None
    return _check(msg)
