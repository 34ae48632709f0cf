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
