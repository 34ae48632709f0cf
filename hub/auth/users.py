"""Users, passwords, login sessions and the audit log (the data side of access control).

- Passwords: argon2id (argon2-cffi defaults). Unknown users cost the same time as wrong passwords.
- Sessions: a random token in an httpOnly, SameSite=Lax cookie; the database keeps only its
  SHA-256, the user, an absolute expiry and the session's CSRF token. A new token is made at every
  login (no session fixation); logout, disabling a user or changing a role ends the sessions.
- ``Principal`` is what ``request.user`` holds on every route: username, role, store ids.
- The audit log doubles as the login rate limit's memory (failed logins per account and address
  within a window), so several hub replicas share one limit without extra state. The limit is a
  progressive delay per (account, address), never a lock of the account (``login_wait``).

Who may reach which route is decided in ``hub.auth.guard``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import AuditEntry, SessionRow, Store, User, UserStore
from hub.settings import AuthSettings
from protocol import TopicError, validate_id

Role = Literal["admin", "hq_viewer", "staff"]
ROLES: tuple[str, ...] = ("admin", "hq_viewer", "staff")
SESSION_COOKIE = "seat_session"
LOGIN_CSRF_COOKIE = "seat_login_csrf"  # double-submit token of the login form (no session yet)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD = 10

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_hasher = PasswordHasher()
_dummy_hash: str | None = None


class AuthError(ValueError):
    """A user operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The logged-in user of a request (``request.user``)."""

    user_id: int
    username: str
    role: str
    store_ids: frozenset[str] = field(default_factory=frozenset)
    csrf_token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def all_stores(self) -> bool:
        return self.role in ("admin", "hq_viewer")

    def can_see(self, store_id: str) -> bool:
        return self.all_stores or store_id in self.store_ids


class UserInfo(msgspec.Struct):
    username: str
    role: str
    store_ids: list[str]
    disabled: bool
    created_at: float


# -- passwords -----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verify(password: str) -> None:
    """Spend the time of one verification (login of an unknown user: no timing oracle)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_hex(16))
    verify_password(_dummy_hash, password)


def check_username(username: str) -> str:
    if not _USERNAME.match(username or ""):
        raise AuthError(f"invalid username {username!r}: use 1-63 lowercase letters, digits, '.', '-' or '_'")
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


MIN_STRENGTH = 3  # zxcvbn score 0-4; 3: "safely unguessable", far beyond common and breached lists


def check_password(password: str, username: str = "") -> str:
    """Length, then strength: zxcvbn (Dropbox's estimator, with its lists of common and breached
    passwords, names and keyboard patterns) must rate it at least ``MIN_STRENGTH``. Ten spaces,
    ``aaaaaaaaaa``, ``password12`` or the username with digits are refused, with its advice."""
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password too short: use at least {MIN_PASSWORD} characters")
    if not password.strip():
        raise AuthError("password is only spaces: use words, digits and signs")
    from zxcvbn import zxcvbn  # loads its word lists (~0.1 s): only when a password is set

    result = zxcvbn(password[:100], user_inputs=[username, "seat", "hub", "admin", "study", "cafe"])
    if result["score"] < MIN_STRENGTH:
        fb = result["feedback"]
        advice = " ".join(x for x in [fb.get("warning") or "", *fb.get("suggestions", [])] if x)
        raise AuthError(f"password too easy to guess (strength {result['score']} of 4, at least {MIN_STRENGTH} "
                        f"needed){': ' + advice if advice else ''}; e.g. three unrelated words with a digit")
    return password


def _check_stores(role: str, stores: Iterable[str]) -> list[str]:
    out = []
    for s in stores:
        try:
            out.append(validate_id(s, "store id"))
        except TopicError as exc:
            raise AuthError(str(exc)) from None
    if role == "staff" and not out:
        raise AuthError("a staff user needs at least one store (--store STORE_ID)")
    if role != "staff" and out:
        raise AuthError(f"role {role} sees every store; --store is only for staff")
    return sorted(set(out))


# -- users ---------------------------------------------------------------------------------------


async def get_user(db: AsyncSession, username: str) -> User:
    user = (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if user is None:
        raise AuthError(f"no user {username!r} (see `seat-hub user list`)")
    return user


async def _existing_stores(db: AsyncSession, store_ids: list[str]) -> list[str]:
    """Staff may only be given stores that exist (a typo would otherwise grant nothing today and,
    silently, a store registered later under that id)."""
    if not store_ids:
        return store_ids
    known = set((await db.execute(select(Store.id).where(Store.id.in_(store_ids)))).scalars())
    missing = [s for s in store_ids if s not in known]
    if missing:
        raise AuthError(f"no store {', '.join(repr(m) for m in missing)}: register it first with "
                        f"`seat-hub store add STORE_ID` (see `seat-hub store list`)")
    return store_ids


async def add_user(db: AsyncSession, username: str, password: str, role: str, stores: Iterable[str] = (),
                   *, actor: str = "cli", now: float | None = None, password_policy: bool = True) -> User:
    """Create a user (caller commits). ``password_policy=False`` only for the throwaway demo
    database, whose printed password is not meant to protect anything."""
    now = time.time() if now is None else now
    check_username(username)
    check_role(role)
    if password_policy:
        check_password(password, username)
    store_ids = await _existing_stores(db, _check_stores(role, stores))
    if (await db.execute(select(User.id).where(User.username == username))).first() is not None:
        raise AuthError(f"user {username!r} exists already (change it with `seat-hub user set-role`)")
    user = User(username=username, password_hash=hash_password(password), role=role, disabled=False,
                created_at=now, updated_at=now)
    db.add(user)
    await db.flush()
    db.add_all([UserStore(user_id=user.id, store_id=s) for s in store_ids])
    await audit(db, "user_add", actor, detail=f"{username} role={role} stores={','.join(store_ids)}", now=now)
    return user


async def set_role(db: AsyncSession, username: str, role: str, stores: Iterable[str] = (), *,
                   actor: str = "cli", now: float | None = None) -> User:
    """Change role and store list; the user's sessions end (they log in again with the new rights)."""
    now = time.time() if now is None else now
    check_role(role)
    store_ids = await _existing_stores(db, _check_stores(role, stores))
    user = await get_user(db, username)
    user.role, user.updated_at = role, now
    await db.execute(delete(UserStore).where(UserStore.user_id == user.id))
    db.add_all([UserStore(user_id=user.id, store_id=s) for s in store_ids])
    await db.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
    await audit(db, "user_set_role", actor, detail=f"{username} role={role} stores={','.join(store_ids)}", now=now)
    return user


async def set_disabled(db: AsyncSession, username: str, disabled: bool = True, *, actor: str = "cli",
                       now: float | None = None) -> User:
    now = time.time() if now is None else now
    user = await get_user(db, username)
    user.disabled, user.updated_at = disabled, now
    if disabled:
        await db.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
    await audit(db, "user_disable" if disabled else "user_enable", actor, detail=username, now=now)
    return user


async def set_password(db: AsyncSession, username: str, password: str, *, actor: str = "cli",
                       now: float | None = None) -> User:
    now = time.time() if now is None else now
    check_password(password, username)
    user = await get_user(db, username)
    user.password_hash, user.updated_at = hash_password(password), now
    await db.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
    await audit(db, "user_password", actor, detail=username, now=now)
    return user


async def list_users(db: AsyncSession) -> list[UserInfo]:
    users = (await db.execute(select(User).order_by(User.username))).scalars().all()
    stores: dict[int, list[str]] = {}
    for uid, sid in (await db.execute(select(UserStore.user_id, UserStore.store_id).order_by(UserStore.store_id))):
        stores.setdefault(uid, []).append(sid)
    return [UserInfo(u.username, u.role, stores.get(u.id, []), u.disabled, u.created_at) for u in users]


# -- audit ---------------------------------------------------------------------------------------


async def audit(db: AsyncSession, kind: str, username: str = "", addr: str = "", store_id: str | None = None,
                detail: str = "", now: float | None = None) -> None:
    """Add one audit row to the caller's transaction."""
    db.add(AuditEntry(at=time.time() if now is None else now, kind=kind, username=username[:63], addr=addr[:64],
                      store_id=store_id, detail=detail[:2000]))


async def login_wait(db: AsyncSession, username: str, addr: str, cfg: AuthSettings,
                     now: float | None = None) -> float:
    """Seconds this address must wait before it may try this account again (0: go ahead).

    Counted per (account, address), never per account alone: a stranger's wrong guesses slow
    down the stranger, not the owner logging in from elsewhere (a per-account lock let anyone
    lock any account, admins included). After ``max_failures_per_user`` failures of one account
    from one address within the window, each further try waits ``delay_base_s`` doubled per
    extra failure (at most ``delay_max_s``) after the last failure. One address spraying many
    accounts meets the same progressive delay after ``max_failures_per_addr`` failures in all."""
    now = time.time() if now is None else now
    since = now - cfg.failure_window_s
    base = select(func.count(), func.max(AuditEntry.at)).select_from(AuditEntry).where(
        AuditEntry.kind == "login_failed", AuditEntry.at >= since, AuditEntry.addr == addr[:64])
    n_pair, last_pair = (await db.execute(base.where(AuditEntry.username == username[:63]))).one()
    wait = _progressive(n_pair, last_pair, cfg.max_failures_per_user, cfg, now)
    if wait > 0:
        return wait
    n_addr, last_addr = (await db.execute(base)).one()
    return _progressive(n_addr, last_addr, cfg.max_failures_per_addr, cfg, now)


def _progressive(failures: int, last: float | None, free: int, cfg: AuthSettings, now: float) -> float:
    if failures < free or last is None:
        return 0.0
    delay = min(cfg.delay_max_s, cfg.delay_base_s * 2.0 ** min(failures - free, 30))
    return max(0.0, last + delay - now)


async def login_blocked(db: AsyncSession, username: str, addr: str, cfg: AuthSettings,
                        now: float | None = None) -> bool:
    """True when this address must wait before trying this account (see ``login_wait``)."""
    return await login_wait(db, username, addr, cfg, now) > 0


# -- sessions ------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_session(db: AsyncSession, user: User, addr: str, cfg: AuthSettings,
                         now: float | None = None) -> str:
    """A new session for ``user``; returns the cookie token (caller commits)."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    db.add(SessionRow(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                      created_at=now, expires_at=now + cfg.session_hours * 3600, addr=addr[:64]))
    # Expired sessions of anyone are swept here: logins are rare enough, and no timer is needed.
    await db.execute(delete(SessionRow).where(SessionRow.expires_at < now))
    return token


async def end_session(db: AsyncSession, token: str) -> None:
    await db.execute(delete(SessionRow).where(SessionRow.token_hash == token_hash(token)))


async def principal_for_token(db: AsyncSession, token: str, now: float | None = None) -> Principal | None:
    now = time.time() if now is None else now
    row = (await db.execute(
        select(SessionRow, User).join(User, User.id == SessionRow.user_id)
        .where(SessionRow.token_hash == token_hash(token), SessionRow.expires_at > now, User.disabled.is_(False))
    )).first()
    if row is None:
        return None
    sess, user = row
    stores = frozenset((await db.execute(select(UserStore.store_id).where(UserStore.user_id == user.id))).scalars())
    return Principal(user.id, user.username, user.role, stores, sess.csrf_token)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to a ``Principal`` or ``None`` (anonymous). It never refuses anything:
    the app-wide guard in ``hub.auth.guard`` does, so that a route is protected unless marked public."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = connection.cookies.get(SESSION_COOKIE)
        user = None
        if token and len(token) < 200:
            async with connection.app.state.sessionmaker() as db:
                user = await principal_for_token(db, token)
        return AuthenticationResult(user=user, auth=token if user is not None else None)


def client_addr(connection: ASGIConnection) -> str:
    client = connection.client
    return client.host if client is not None else ""
