"""Edge provisioning and the broker's access control files.

- ``seat-hub store add STORE`` registers the store and its edge's MQTT account (username
  ``STORE.EDGE``; ids cannot contain '.', so it is unambiguous).
- ``seat-hub store bundle STORE`` gives that account a NEW password and writes what the edge's
  installer needs (``edge-bundle.toml``: ids, broker, username, password; the CA if TLS). The
  hub keeps only the password's hash, so every bundle rotates it; the old password stops working
  when the broker files are written again.
- ``seat-hub broker-acl`` writes Mosquitto's password file (PBKDF2-SHA512, Mosquitto's own
  ``$7$`` format) and ACL file: an edge may publish only its own store/edge topics and read only
  its own config and requests; the hub account (``mqtt.username`` of hub.toml) reads and writes
  the whole prefix and its live-update topics (``{prefix}-live/#``, relayed between replicas).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.users import AuthError, audit
from hub.db.models import EdgeAccount, Store
from hub.settings import DEFAULT_TZ, zone_known
from protocol import TopicError, TopicSpace, validate_id
from protocol.topics import EDGE_KINDS, HUB_KINDS

PBKDF2_ITERATIONS = 101  # Mosquitto's mosquitto_passwd default for $7$


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A password-file hash Mosquitto 2 verifies: ``$7$ITER$b64(salt)$b64(pbkdf2_sha512)``."""
    salt = salt if salt is not None else os.urandom(12)
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def edge_username(store_id: str, edge_id: str) -> str:
    return f"{store_id}.{edge_id}"


def _ids(store_id: str, edge_id: str) -> None:
    try:
        validate_id(store_id, "store id")
        validate_id(edge_id, "edge id")
    except TopicError as exc:
        raise AuthError(str(exc)) from None


async def add_store(db: AsyncSession, store_id: str, name: str, edge_id: str = "edge1", *,
                    actor: str = "cli", now: float | None = None, timezone: str | None = None) -> EdgeAccount:
    """Register a store (or rename it) and create its edge's account if it has none.
    ``timezone``: the store's IANA zone ("" = the hub's again; None = leave as it is)."""
    now = time.time() if now is None else now
    _ids(store_id, edge_id)
    if timezone and not zone_known(timezone):
        raise AuthError(f"--timezone {timezone!r} is no time zone name (like \"Asia/Seoul\" or \"Europe/Berlin\"; "
                         f"the list: timedatectl list-timezones)")
    store = await db.get(Store, store_id)
    if store is None:
        store = Store(id=store_id, name=name or store_id, created_at=now, timezone=timezone or "")
        db.add(store)
    else:
        if name:
            store.name = name
        if timezone is not None:
            store.timezone = timezone
    username = edge_username(store_id, edge_id)
    account = await db.get(EdgeAccount, username)
    if account is None:
        # A random password nobody knows yet: `store bundle` issues the one the edge gets.
        account = EdgeAccount(username=username, store_id=store_id, edge_id=edge_id,
                              password_hash=mosquitto_hash(secrets.token_urlsafe(24)), created_at=now, rotated_at=now)
        db.add(account)
    await audit(db, "store_add", actor, store_id=store_id,
                detail=f"edge={edge_id} name={name}" + (f" timezone={timezone or 'hub'}" if timezone is not None else ""),
                now=now)
    return account


async def rotate_edge_password(db: AsyncSession, store_id: str, edge_id: str = "edge1", *, actor: str = "cli",
                               now: float | None = None) -> tuple[EdgeAccount, str]:
    now = time.time() if now is None else now
    _ids(store_id, edge_id)
    account = await db.get(EdgeAccount, edge_username(store_id, edge_id))
    if account is None:
        raise AuthError(f"no edge {edge_id!r} in store {store_id!r}: run `seat-hub store add {store_id} "
                        f"--edge {edge_id}` first")
    password = secrets.token_urlsafe(24)
    account.password_hash, account.rotated_at = mosquitto_hash(password), now
    await audit(db, "edge_password", actor, store_id=store_id, detail=f"edge={edge_id}", now=now)
    return account, password


async def edge_accounts(db: AsyncSession) -> list[EdgeAccount]:
    return list((await db.execute(select(EdgeAccount).order_by(EdgeAccount.username))).scalars())


async def store_zones(db: AsyncSession) -> dict[str, str]:
    """Each store's own time zone ("" = the hub's)."""
    return {sid: tz for sid, tz in (await db.execute(select(Store.id, Store.timezone))).all()}


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """mqtt://host[:1883] or mqtts://host[:8883]."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("mqtt", "mqtts") or not rest:
            raise AuthError(f"broker URL {url!r}: use mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)")
        host, _, port = rest.rstrip("/").rpartition(":") if ":" in rest else (rest.rstrip("/"), "", "")
        tls = scheme == "mqtts"
        try:
            p = int(port) if port else (8883 if tls else 1883)
        except ValueError:
            raise AuthError(f"broker URL {url!r}: port {port!r} is not a number") from None
        if not host or not 0 < p < 65536:
            raise AuthError(f"broker URL {url!r}: needs a host and a port 1..65535")
        return cls(host, p, tls)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bundle_toml(account: EdgeAccount, password: str, broker: BrokerUrl, topic_prefix: str,
                ca_file: str | None = None, timezone: str = DEFAULT_TZ) -> str:
    """The [edge] and [mqtt] sections of the edge's config (the installer merges the rest).
    ``timezone``: the store's (own or the hub's); written when not the edge's default."""
    lines = [
        "# seat-edge provisioning bundle: written by `seat-hub store bundle`. Contains a password:",
        "# keep it like one, copy it to the store's edge, then delete it here.",
        "[edge]",
        f"store_id = {_toml_str(account.store_id)}",
        f"edge_id = {_toml_str(account.edge_id)}",
        *([f"timezone = {_toml_str(timezone)}  # the store's, shown on the staff page"]
          if timezone != DEFAULT_TZ else []),
        "",
        "[mqtt]",
        f"host = {_toml_str(broker.host)}",
        f"port = {broker.port}",
        f"topic_prefix = {_toml_str(topic_prefix)}",
        f"username = {_toml_str(account.username)}",
        f"password = {_toml_str(password)}",
        f"tls = {'true' if broker.tls else 'false'}",
    ]
    if ca_file:
        lines.append(f"ca_file = {_toml_str(ca_file)}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str | bytes, group: str | None = None) -> None:
    """Write a file only its owner (and ``group``, e.g. the broker's) can read: it holds secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if group is not None:
        import grp

        os.chown(tmp, -1, grp.getgrnam(group).gr_gid)
        os.chmod(tmp, 0o640)
    os.replace(tmp, path)  # the broker never reads a half-written file


def acl_text(accounts: list[EdgeAccount], hub_username: str, topics: TopicSpace) -> str:
    p = topics.prefix
    out = [
        "# Mosquitto ACL for seat monitoring: written by `seat-hub broker-acl`; do not edit by hand.",
        "# The hub: every edge's messages (shared subscription), config and requests to edges,",
        "# and its live-update topics that the replicas relay to each other.",
        f"user {hub_username}",
        f"topic readwrite {p}/#",
        f"topic readwrite {p}-live/#",
        "",
    ]
    for a in accounts:
        out.append(f"# store {a.store_id}, edge {a.edge_id}: publish only its own topics, read only its own requests")
        out.append(f"user {a.username}")
        out += [f"topic write {p}/{a.store_id}/{a.edge_id}/{k}" for k in EDGE_KINDS]
        out += [f"topic read {p}/{a.store_id}/{a.edge_id}/{k}" for k in HUB_KINDS]
        out.append("")
    return "\n".join(out)


def passwd_text(accounts: list[EdgeAccount], hub_username: str, hub_password: str) -> str:
    lines = [f"{hub_username}:{mosquitto_hash(hub_password)}"]
    lines += [f"{a.username}:{a.password_hash}" for a in accounts]
    return "\n".join(lines) + "\n"


def check_hub_account(username: str | None, password: str | None) -> tuple[str, str]:
    if not username or not password:
        raise AuthError("the hub's broker account is missing: set mqtt.username and mqtt.password in hub.toml "
                        "(the hub connects with them; broker-acl gives that account its rights)")
    if ":" in username or "." in username:
        raise AuthError(f"mqtt.username {username!r} must not contain ':' or '.' (edge accounts use '.')")
    return username, password
