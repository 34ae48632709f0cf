"""Issue 19 point 7: no channel_down alert at start-up for a camera that is still connecting:
the edge's first health report waits for the channels (or a real failure, or 15 s)."""

from __future__ import annotations

from edge_agent.agent import STARTUP_GRACE_S, health_due
from protocol.messages import ChannelHealth


def ch(n: int, online: bool, err: str | None = None) -> ChannelHealth:
    return ChannelHealth(channel=n, online=online, fps=0.0, last_frame_age_s=None, reconnects=0, last_error=err)


def test_still_connecting_is_not_reported_as_down():
    assert not health_due([ch(1, True), ch(2, False)], uptime_s=2.0)  # ch2 still connecting


def test_all_online_or_a_real_failure_is_reported_at_once():
    assert health_due([ch(1, True), ch(2, True)], uptime_s=1.0)
    assert health_due([ch(1, True), ch(2, False, "connection refused")], uptime_s=1.0)


def test_after_the_grace_period_a_silent_channel_is_down():
    assert health_due([ch(1, False)], uptime_s=STARTUP_GRACE_S)


def test_channel_health_carries_latency_and_drift_to_the_hub():
    from edge_agent.agent import channel_health
    from edge_agent.seats.drift import ChannelDrift

    drifts = [ChannelDrift(1, 0.03, -0.04, 0.2, True, 0.02), ChannelDrift(2, 0.004, 0.001, -0.2, False, 0.02)]
    out = channel_health([ch(1, True), ch(2, True), ch(3, False)], {1: 12.5}, drifts)
    assert [(c.channel, c.latency_ms, c.drift, c.camera_moved) for c in out] == [
        (1, 12.5, 0.05, True), (2, None, 0.0041, False), (3, None, None, False)]
