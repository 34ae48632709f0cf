"""Issue 19 point 7: the broker-loss line says what happened in words, not "Unspecified error"."""

from __future__ import annotations

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.uplink import disconnect_reason


def test_a_dropped_connection_reads_as_words():
    rc = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
    assert str(rc) == "Unspecified error"  # what the log said before
    assert "connection dropped" in disconnect_reason(rc)
    assert "same store and edge id" in disconnect_reason(ReasonCode(PacketTypes.DISCONNECT, "Session taken over"))
    assert disconnect_reason(ReasonCode(PacketTypes.DISCONNECT, "Message rate too high")) == "Message rate too high"
