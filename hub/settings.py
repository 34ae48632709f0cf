"""Hub settings from TOML (``hub.toml``), as typed msgspec Structs.

Unknown keys are rejected so a typo in the file is an error, not a silently ignored option.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from hub.kiosk.settings import KioskStoreSettings

# The stores' time zone where none is given (all stores of the chain are in Korea).
DEFAULT_TZ = "Asia/Seoul"


def zone_known(name: str) -> bool:
    """An IANA zone name this machine knows ("Asia/Seoul"); "" and odd strings are not."""
    from zoneinfo import ZoneInfo

    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for "../x" and the like
        return False
    return True


class SettingsError(ValueError):
    """The settings file is missing, unreadable or invalid; the message says which key and why."""


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True):
    # Embedded default: one file next to where the hub runs. PostgreSQL: postgresql+asyncpg://...
    url: str = "sqlite+aiosqlite:///./var/hub.sqlite"


class MqttSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "seat/v1"
    # MQTT v5 shared subscription group: replicas split the ingest. Empty (the default): a secret name
    # derived from mqtt.password, the same for every replica, so that no edge account can name the
    # group and join it (Mosquitto 2.0's ACL file cannot refuse a $share subscription; a member
    # that may not read a message still takes its share, which is then lost). "seat-hub" when no
    # password is set (an open development broker: nothing to protect).
    shared_group: str = ""
    # Empty: "seat-hub-{hostname}-{http.port}-{secret}", stable across restarts and different for
    # each replica (replicas on one host listen on different ports); the secret part (from
    # mqtt.password) keeps an edge from taking the hub's session over by connecting with its id.
    # Set it when a replica moves between hosts (and make it unguessable).
    client_id: str = ""
    # The broker keeps this hub's session, and every message not yet committed or sent while the
    # hub is down, for this many seconds: a crashed or SIGKILLed hub loses nothing when it is back
    # within this time. 0: a fresh session (and a random client id) per start, which loses what
    # arrives while the hub is down: only for throwaway setups.
    session_expiry_s: int = 3600
    # On a planned stop: unsubscribe, commit what arrived, and end the session, so the other replicas
    # of the shared group get everything at once instead of the broker keeping this replica's share
    # for it until session_expiry_s. Leave false for a single hub: its session must outlive a restart.
    release_session_on_stop: bool = False
    username: str | None = None
    password: str | None = None
    tls: bool = False  # connect with TLS (port 8883 usually); see docs/security.md
    ca_file: str | None = None  # the broker's CA certificate (a private CA); None: system CAs
    keepalive_s: int = 30
    # One broker session per store (hub/mqtt/lanes.py, docs/adr/0006-store-lanes.md), so that one
    # store's backlog waits in its own queue at the broker, not in front of every other store's.
    # "auto": on when the hub logs in (mqtt.username: a broker with accounts, where only the stores
    # of the stores table, `seat-hub store add`, can publish at all) on the broker's plain local
    # listener; off over TLS, since the shipped TLS listener is the edges' one, where every
    # connection of an account gets the username as client id (so one connection per account).
    # "off": one session for all (an open trial broker: stores appear by their first birth).
    # "on": always (a TLS listener of the hub's own, without use_username_as_clientid).
    store_sessions: str = "auto"
    # What the hub holds of one store at most (received, not yet committed): at this many messages
    # or bytes it stops reading that store's session until the batch is committed; the broker keeps
    # the rest in that store's own queue.
    store_inflight: int = 500
    store_inflight_bytes: int = 8_000_000
    store_poll_s: float = 5.0  # how often the stores table is read to open or close store sessions

    def __post_init__(self) -> None:
        if not self.shared_group:
            self.shared_group = f"seat-hub-{_secret_tag(self.password, 'shared-group')}" if self.password \
                else "seat-hub"


def _secret_tag(password: str, purpose: str) -> str:
    """16 hex characters only the holders of the hub's broker password can compute."""
    import hashlib
    import hmac

    return hmac.new(password.encode(), f"seat-hub {purpose}".encode(), hashlib.sha256).hexdigest()[:16]


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    # Reverse proxies (addresses or networks, e.g. ["127.0.0.1"]) whose X-Forwarded-For/-Proto are
    # believed: the client address for login limits and logs, https for Secure cookies. Empty: no
    # proxy, the headers are ignored (anyone could otherwise pick their address per request).
    trusted_proxies: list[str] = []


class IngestSettings(msgspec.Struct, forbid_unknown_fields=True):
    batch_max: int = 1000  # messages per database transaction at most (bench: 200 -> 1000 = +30% ingest)
    batch_wait_ms: float = 10.0  # how long a batch may wait to fill up (adds to live latency)
    queue_max: int = 50_000  # paho thread -> asyncio queue bound (backpressure, never unbounded)
    # Fairness between stores (hub/mqtt/fair.py): one batch takes at most this much of each store,
    # round robin, so a store with a backlog or big births cannot make a batch (which every store in
    # it waits for) long. At least one message per store and batch.
    store_batch_max: int = 250
    store_batch_bytes: int = 256 * 1024


class AlertSettings(msgspec.Struct, forbid_unknown_fields=True):
    abandoned_alert_s: float = 600.0
    vacant_alert_hours: float = 4.0
    suppress_window_s: float = 900.0
    webhooks: list[str] = []
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "seat-hub@localhost"
    smtp_to: list[str] = []


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True):
    session_hours: float = 12.0  # absolute lifetime of a login session (cookie and server side)
    # An open live WebSocket re-checks its session this often: logout, expiry, a disabled user or a
    # role/store change (from any replica or the CLI) closes it within this time.
    ws_recheck_s: float = 5.0
    # true when the dashboard is served over HTTPS (directly or behind a TLS proxy): the session
    # cookie is then never sent in clear text. See docs/security.md.
    cookie_secure: bool = False
    # Origins (scheme://host[:port]) allowed to open WebSockets besides the hub's own address.
    allowed_origins: list[str] = []
    # Login rate limit, per (account, client address) and never per account alone (a stranger must
    # not lock the owner out): after max_failures_per_user failed logins of one account from one
    # address within failure_window_s, each further try waits delay_base_s, doubled per further
    # failure, at most delay_max_s. One address failing max_failures_per_addr times over all
    # accounts meets the same delay. Behind a proxy, list it in http.trusted_proxies.
    max_failures_per_user: int = 5
    max_failures_per_addr: int = 20
    failure_window_s: float = 900.0
    delay_base_s: float = 30.0
    delay_max_s: float = 900.0


class RetentionSettings(msgspec.Struct, forbid_unknown_fields=True):
    """What the hub deletes and when (hub/db/retention.py, `seat-hub maintain`)."""

    dedupe_days: float = 7.0  # dedupe keys of seat messages (event, delta, ack...)
    health_keys_minutes: float = 60.0  # dedupe keys of health messages (only the gap check reads them)
    raw_events_months: int = 13  # raw seat events (history, statistics); 0: keep for ever
    interval_s: float = 3600.0  # how often `serve` runs the job; 0: never (use `seat-hub maintain`)
    batch_rows: int = 5000  # rows per delete transaction


class HubSettings(msgspec.Struct, forbid_unknown_fields=True):
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)
    # Seat system (kiosk) per store id, the adapter chosen by its `type` (hub/kiosk/settings.py).
    kiosk: dict[str, KioskStoreSettings] = {}
    # An edge that sent nothing (health messages included) for this long is offline, its seats unknown.
    edge_timeout_s: float = 90.0
    # The hub's time zone (IANA name): stores without their own (`seat-hub store add --timezone`)
    # use it, and so do the pages about several stores (overview, users). docs/operations.md "Time".
    timezone: str = DEFAULT_TZ


def store_sessions_on(s: HubSettings) -> bool:
    """Whether the hub reads each store through its own broker session (``mqtt.store_sessions``)."""
    return s.mqtt.store_sessions == "on" or (
        s.mqtt.store_sessions == "auto" and bool(s.mqtt.username) and not s.mqtt.tls)


def mqtt_client_id(s: HubSettings) -> str:
    """The hub's MQTT client id: the configured one, else stable per host and HTTP port (so a
    restarted hub resumes its session) with a part derived from the broker password (so nobody
    without it can guess the id and take the session over), random when there is no session."""
    import socket
    import uuid

    if s.mqtt.client_id:
        return s.mqtt.client_id
    if s.mqtt.session_expiry_s <= 0:
        return f"seat-hub-{uuid.uuid4().hex[:10]}"
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:100] or "host"
    base = f"seat-hub-{host}-{s.http.port}"
    return f"{base}-{_secret_tag(s.mqtt.password, base)}" if s.mqtt.password else base


def parse_settings(text: str | bytes, source: str = "<settings>") -> HubSettings:
    try:
        settings = msgspec.toml.decode(text, type=HubSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{source}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise SettingsError(f"{source}: not valid TOML: {exc}") from None
    _check(settings, source)
    return settings


def load_settings(path: str | Path | None) -> HubSettings:
    """Read ``hub.toml``; ``None`` gives the embedded defaults (SQLite, local broker)."""
    if path is None:
        return HubSettings()
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"settings file {p} not found (copy hub.toml.example to start)") from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {p}: {exc}") from None
    return parse_settings(text, str(p))


def _check(s: HubSettings, source: str) -> None:
    from protocol.topics import TopicError, TopicSpace

    try:
        TopicSpace(s.mqtt.topic_prefix)
    except TopicError as exc:
        raise SettingsError(f"{source}: mqtt.topic_prefix: {exc}") from None
    if not s.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            f"{source}: database.url must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
            f"(got {s.database.url!r})"
        )
    for key, value in (("mqtt.port", s.mqtt.port), ("http.port", s.http.port)):
        if not 0 < value < 65536:
            raise SettingsError(f"{source}: {key} must be 1..65535 (got {value})")
    if s.mqtt.session_expiry_s < 0:
        raise SettingsError(f"{source}: mqtt.session_expiry_s must be >= 0 (got {s.mqtt.session_expiry_s})")
    if not zone_known(s.timezone):
        raise SettingsError(f"{source}: timezone = {s.timezone!r} is no time zone name (like \"Asia/Seoul\"; "
                            f"the list: timedatectl list-timezones)")
    if s.edge_timeout_s <= 0:
        raise SettingsError(f"{source}: edge_timeout_s must be > 0 (got {s.edge_timeout_s})")
    if s.ingest.batch_max < 1 or s.ingest.batch_wait_ms < 0:
        raise SettingsError(f"{source}: ingest.batch_max must be >= 1 and ingest.batch_wait_ms >= 0")
    r = s.retention
    # The gap check reads health keys seconds after a gap is noticed; a redelivery from the broker's
    # session (mqtt.session_expiry_s, 1 h) must still meet its key: below these limits, data breaks.
    if r.health_keys_minutes < 5 or r.dedupe_days < 1 or r.raw_events_months < 0 or r.interval_s < 0 \
            or r.batch_rows < 1:
        raise SettingsError(
            f"{source}: retention: health_keys_minutes must be >= 5, dedupe_days >= 1, raw_events_months >= 0 "
            f"(0: keep for ever), interval_s >= 0 (0: only `seat-hub maintain`), batch_rows >= 1")
    if r.dedupe_days * 86400 < s.mqtt.session_expiry_s:
        raise SettingsError(f"{source}: retention.dedupe_days must cover mqtt.session_expiry_s "
                            f"({s.mqtt.session_expiry_s:.0f} s), or a redelivered message counts twice")
    from hub.kiosk.settings import problems as kiosk_problems

    if found := kiosk_problems(s.kiosk):
        raise SettingsError(f"{source}: " + "; ".join(found))
    if s.mqtt.store_sessions not in ("auto", "on", "off"):
        raise SettingsError(f"{source}: mqtt.store_sessions must be \"auto\", \"on\" or \"off\"")
    if not 1 <= s.mqtt.store_inflight <= 65535 or s.mqtt.store_inflight_bytes < 1 or s.mqtt.store_poll_s <= 0:
        raise SettingsError(f"{source}: mqtt.store_inflight must be 1..65535, mqtt.store_inflight_bytes >= 1 "
                            "and mqtt.store_poll_s > 0")
    if s.ingest.store_batch_max < 1 or s.ingest.store_batch_bytes < 1:
        raise SettingsError(f"{source}: ingest.store_batch_max and ingest.store_batch_bytes must be >= 1")
    if "/" in s.mqtt.shared_group or "+" in s.mqtt.shared_group or "#" in s.mqtt.shared_group:
        raise SettingsError(f"{source}: mqtt.shared_group must not contain '/', '+' or '#'")
