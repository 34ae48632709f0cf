"""What crosses the wire between edge agents and the hub (shared by both tiers)."""

from protocol.messages import (
    SCHEMA_VERSION,
    SEAT_STATES,
    Birth,
    ChannelDef,
    ChannelHealth,
    Config,
    ConfigAck,
    Death,
    Delta,
    EdgeMessage,
    Event,
    Evidence,
    Health,
    HubMessage,
    Message,
    SeatDef,
    SeatSnapshot,
    SeatState,
    SnapshotRequest,
    StateRules,
)
from protocol.codec import ProtocolError, decode, decode_json, encode, encode_json
from protocol.topics import Topic, TopicError, TopicSpace, validate_id

__all__ = [
    "SCHEMA_VERSION", "SEAT_STATES", "Birth", "ChannelDef", "ChannelHealth", "Config", "ConfigAck",
    "Death", "Delta", "EdgeMessage", "Event", "Evidence", "Health", "HubMessage", "Message", "SeatDef",
    "SeatSnapshot", "SeatState", "SnapshotRequest", "StateRules", "ProtocolError", "decode",
    "decode_json", "encode", "encode_json", "Topic", "TopicError", "TopicSpace", "validate_id",
]
