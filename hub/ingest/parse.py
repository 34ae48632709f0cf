"""Raw MQTT messages -> typed edge messages (pure: no database, no I/O besides logging).

Topic and payload must agree, sizes and values must be storable, and a message named twice in
one batch is counted once. What is refused is counted by reason (``seat_hub_rejected_messages``)
and logged with its topic; the rest of the batch goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hub.mqtt.client import RawMessage
from protocol import (
    Birth,
    ConfigAck,
    Death,
    Delta,
    EdgeMessage,
    Event,
    Health,
    ProtocolError,
    TopicError,
    TopicSpace,
    decode,
)
from protocol.limits import message_problem, payload_problem
from protocol.messages import Frame
from protocol.topics import HUB_KINDS

__all__ = ["IngestError", "Parsed", "RawMessage", "parse_batch", "parse_message"]

log = logging.getLogger("hub.ingest.writer")

_EDGE_TYPES = (Birth, Delta, Event, Health, Death, ConfigAck)


class IngestError(ValueError):
    """A message the hub will not accept (malformed, foreign topic, topic/payload mismatch).
    ``reason`` is a short code for the ``seat_hub_rejected_messages`` metric."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


def parse_message(raw: RawMessage, topics: TopicSpace) -> EdgeMessage | Frame | None:
    """Topic and payload must agree: store, edge and kind; only edge -> hub kinds are accepted.
    ``None`` for the hub's own messages (config, snapshot requests) that the wildcard also matches
    and for an edge clearing its retained Death (empty payload)."""
    try:
        t = topics.parse(raw.topic)
    except TopicError as exc:
        raise IngestError(str(exc), "topic") from None
    if t.kind in HUB_KINDS:
        return None
    if not raw.payload and t.kind == "death":
        # An edge clears its retained Death with an empty retained payload when it reconnects.
        return None
    if (p := payload_problem(raw.payload)) is not None:
        raise IngestError(p.detail, p.reason)
    try:
        msg = decode(raw.payload, expect=Frame if t.kind == "frame" else _EDGE_TYPES)
    except ProtocolError as exc:
        raise IngestError(str(exc)) from None
    kind = type(msg).__struct_config__.tag
    if (msg.store_id, msg.edge_id, kind) != (t.store_id, t.edge_id, t.kind):
        raise IngestError(
            f"payload says {msg.store_id}/{msg.edge_id}/{kind} but arrived on {t.store_id}/{t.edge_id}/{t.kind}",
            "topic_mismatch",
        )
    return msg


@dataclass
class Parsed:
    msgs: list[EdgeMessage] = field(default_factory=list)  # sequenced, each (store, edge, boot, seq) once
    frames: list[Frame] = field(default_factory=list)  # snapshot answers: not sequenced, stored on their own
    dropped: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> messages refused

    def refuse(self, raw: RawMessage, reason: str, detail: str) -> None:
        log.warning("dropped message on topic %r (%s): %s", raw.topic[:200], reason, detail)
        self.dropped += 1
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def parse_batch(raws: list[RawMessage], topics: TopicSpace, now: float) -> Parsed:
    out = Parsed()
    seen: set[tuple[str, str, str, int]] = set()
    for raw in raws:
        try:
            m = parse_message(raw, topics)
        except IngestError as exc:
            out.refuse(raw, exc.reason, str(exc))
            continue
        if m is None:
            continue
        if (p := message_problem(m, now)) is not None:
            # Checked before the database: a value no column can hold would fail the whole batch.
            out.refuse(raw, p.reason, p.detail)
            continue
        if isinstance(m, Frame):
            out.frames.append(m)
            continue
        key = (m.store_id, m.edge_id, m.boot_id, m.seq)  # store_id too: edge ids are per store
        if key in seen:
            out.duplicates += 1
            continue
        seen.add(key)
        out.msgs.append(m)
    return out
