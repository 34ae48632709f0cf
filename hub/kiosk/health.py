"""The kiosk link's health, as a pure state machine the poller and the webhook drive.

The kiosk state of a store is *known* while the last read succeeded and is fresh enough; else it
is "unknown since" the first failure (or since the read went stale). Unknown kiosk state stops
the reconciliation alerts; it never stops ingest, pages or the camera alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from hub.kiosk.settings import GenericSettings, GoScaSettings, KioskStoreSettings


@dataclass(frozen=True)
class Health:
    adapter: str
    ok: bool = False
    unknown_since: float | None = None
    last_ok_at: float | None = None
    last_attempt_at: float | None = None
    last_error: str | None = None
    failures: int = 0  # in a row
    latency_ms: float | None = None
    seats: int = 0


def after_ok(h: Health, now: float, latency_ms: float | None, seats: int) -> Health:
    return replace(h, ok=True, unknown_since=None, last_ok_at=now, last_attempt_at=now, last_error=None,
                   failures=0, latency_ms=latency_ms, seats=seats)


def after_failure(h: Health, now: float, error: str) -> Health:
    return replace(h, ok=False, unknown_since=h.unknown_since if not h.ok and h.unknown_since is not None else now,
                   last_attempt_at=now, last_error=error[:500], failures=h.failures + 1)


def stale_after_s(s: KioskStoreSettings) -> float:
    """How old the last good read may be before the kiosk state is unknown."""
    if isinstance(s, GoScaSettings):
        return 3 * s.interval_s + s.timeout_s
    assert isinstance(s, GenericSettings)
    return s.stale_s


def unknown_since(h: Health | None, now: float, stale_s: float) -> float | None:
    """None while the kiosk state is known; else since when it is not (None health: never read)."""
    if h is None:
        return now
    if not h.ok:
        return h.unknown_since if h.unknown_since is not None else (h.last_attempt_at or now)
    if h.last_ok_at is None:
        return now
    if now - h.last_ok_at > stale_s:
        return h.last_ok_at + stale_s
    return None


def next_delay(interval_s: float, failures: int, max_backoff_s: float, rnd: random.Random | None = None) -> float:
    """Seconds to the next poll. Healthy: the interval +-10 % (stores spread out). After n
    failures in a row: exponential backoff interval * 2**n, capped, with "equal jitter" (half
    fixed, half random) so a kiosk server that comes back is not hit by every hub at once."""
    r = rnd or random
    if failures <= 0:
        return interval_s * (0.9 + 0.2 * r.random())
    cap = min(max_backoff_s, interval_s * (2 ** min(failures, 30)))
    return cap / 2 + r.random() * cap / 2
