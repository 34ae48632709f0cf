"""Login sessions of the local page (pure, no I/O): signed tokens, the per-address login throttle,
and the same-site redirect check.

A token is ``issued.expires.nonce.hmac`` with HMAC-SHA256 under a per-box secret (kept in the
store's ``meta`` so sessions survive a restart), bound to the password hash (changing the
password logs everybody out).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

SESSION_COOKIE = "seat_edge_session"
SESSION_TTL_S = 12 * 3600
SECRET_META_KEY = "local_ui_secret"
REVOKED_META_KEY = "local_ui_revoked"  # {token body: expiry} of logged-out sessions
MAX_FAILURES = 5  # per client address within FAILURE_WINDOW_S, then a wait
FAILURE_WINDOW_S = 60.0


def sign_session(secret: bytes, password_hash: str, now: float, ttl: float = SESSION_TTL_S) -> str:
    body = f"{int(now)}.{int(now + ttl)}.{secrets.token_hex(8)}"
    return body + "." + _mac(secret, password_hash, body)


def check_session(secret: bytes, password_hash: str, token: str | None, now: float) -> bool:
    if not token:
        return False
    body, _, sig = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not hmac.compare_digest(sig, _mac(secret, password_hash, body)):
        return False
    try:
        return float(parts[0]) <= now + 60 and now < float(parts[1])
    except ValueError:
        return False


def token_body(token: str | None) -> str | None:
    """``issued.expires.nonce`` of a token (what a revocation list keys on), or None."""
    if not token:
        return None
    body, _, sig = token.rpartition(".")
    return body if body and sig else None


def token_expiry(body: str) -> float:
    try:
        return float(body.split(".")[1])
    except (IndexError, ValueError):
        return 0.0


def prune_revoked(revoked: dict[str, float], now: float) -> dict[str, float]:
    """Drop revocations of tokens that have expired anyway (the list stays as small as the number
    of logouts within one session lifetime)."""
    return {b: exp for b, exp in revoked.items() if exp > now}


def _mac(secret: bytes, password_hash: str, body: str) -> str:
    key = secret + hashlib.sha256(password_hash.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class LoginThrottle:
    """Wrong passwords per client address: after ``MAX_FAILURES`` within ``FAILURE_WINDOW_S`` the
    address waits until the oldest failure leaves the window."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def throttled_for(self, addr: str) -> int:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(addr, []) if now - t < FAILURE_WINDOW_S]
            self._failures[addr] = recent
            if len(recent) >= MAX_FAILURES:
                return int(FAILURE_WINDOW_S - (now - recent[0])) + 1
        return 0

    def record_failure(self, addr: str) -> None:
        with self._lock:
            self._failures.setdefault(addr, []).append(self.clock())
