"""MQTT topics: ``{prefix}/{store_id}/{edge_id}/{kind}`` with prefix ``seat/v1`` by default.

Tests use their own prefix so they never see another run's retained messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TopicKind = Literal["birth", "delta", "event", "health", "death", "config_ack", "frame", "config",
                    "snapshot_request", "frame_request", "stored"]
EDGE_KINDS: tuple[str, ...] = ("birth", "delta", "event", "health", "death", "config_ack", "frame")
HUB_KINDS: tuple[str, ...] = ("config", "snapshot_request", "frame_request", "stored")
ALL_KINDS = EDGE_KINDS + HUB_KINDS

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_PREFIX = "seat/v1"


class TopicError(ValueError):
    """A topic or id that this system does not produce or accept."""


def validate_id(value: str, what: str = "id") -> str:
    """Store and edge ids: lowercase letters, digits, '-' and '_', 1..63 chars, no MQTT wildcards."""
    if not isinstance(value, str) or not _ID.match(value):
        raise TopicError(
            f"invalid {what} {value!r}: use 1-63 lowercase letters, digits, '-' or '_' (e.g. 'oryudong')"
        )
    return value


@dataclass(frozen=True)
class Topic:
    store_id: str
    edge_id: str
    kind: str


@dataclass(frozen=True)
class TopicSpace:
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        parts = self.prefix.split("/")
        if not self.prefix or any(not _PREFIX_PART.match(p) for p in parts):
            raise TopicError(f"invalid topic prefix {self.prefix!r}")

    def topic(self, store_id: str, edge_id: str, kind: str) -> str:
        validate_id(store_id, "store id")
        validate_id(edge_id, "edge id")
        if kind not in ALL_KINDS:
            raise TopicError(f"unknown message kind {kind!r}")
        return f"{self.prefix}/{store_id}/{edge_id}/{kind}"

    def parse(self, topic: str) -> Topic:
        head = self.prefix + "/"
        if not topic.startswith(head):
            raise TopicError(f"topic {topic!r} is outside {self.prefix!r}")
        rest = topic[len(head):].split("/")
        if len(rest) != 3:
            raise TopicError(f"topic {topic!r} must be {self.prefix}/STORE/EDGE/KIND")
        store_id, edge_id, kind = rest
        validate_id(store_id, "store id")
        validate_id(edge_id, "edge id")
        if kind not in ALL_KINDS:
            raise TopicError(f"unknown message kind {kind!r} in {topic!r}")
        return Topic(store_id, edge_id, kind)

    # Subscription filters
    def edge_filter(self, store_id: str = "+") -> str:
        """What the hub subscribes to (all edges' messages, or one store's)."""
        return f"{self.prefix}/{store_id}/+/+"

    def live_topic(self, store_id: str) -> str:
        """Hub replicas tell each other (and so every dashboard) what they just wrote. Outside
        the edge filter's tree on purpose: edges neither publish nor read here (broker ACL)."""
        validate_id(store_id, "store id")
        return f"{self.prefix}-live/{store_id}"

    def live_filter(self) -> str:
        return f"{self.prefix}-live/+"

    def parse_live(self, topic: str) -> str:
        """The store id of a live topic."""
        head = f"{self.prefix}-live/"
        if not topic.startswith(head):
            raise TopicError(f"topic {topic!r} is not a live topic of {self.prefix!r}")
        return validate_id(topic[len(head):], "store id")

    def shared_edge_filter(self, group: str = "seat-hub") -> str:
        """MQTT v5 shared subscription so several hub replicas split the ingest."""
        return f"$share/{group}/{self.edge_filter()}"
