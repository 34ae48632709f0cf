"""SQLAlchemy 2 typed models: the hub's system of record.

Time convention (every time column): UNIX epoch seconds as a double (UTC), the same as on the
wire. Seat times (``since``, ``at``) are frame capture times from the edge; ``last_seen``,
``received_at``, ``created_at`` are hub clock. Portable between PostgreSQL and SQLite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT autoincrement on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {float: Double(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Store(Base):
    __tablename__ = "stores"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float]
    # IANA zone of the store ("Europe/Berlin"); "" = the hub's (hub.toml `timezone`). Pages,
    # statistics and exports of the store use it (hub.params.store_zone).
    timezone: Mapped[str] = mapped_column(String(64), default="", server_default="")


class Edge(Base):
    """One edge agent. ``boot_id``/``last_seq`` drive gap detection; ``online`` is the
    edge-down signal the alert service watches."""

    __tablename__ = "edges"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    boot_id: Mapped[str] = mapped_column(String(64), default="")
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen: Mapped[float]  # hub clock, last message of any kind
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    offline_since: Mapped[float | None]
    config_version: Mapped[int] = mapped_column(Integer, default=0)  # applied on the edge
    # A snapshot request is outstanding (sent at this hub time); cleared by the next birth.
    snapshot_requested_at: Mapped[float | None]
    outbox_depth: Mapped[int] = mapped_column(Integer, default=0)
    outbox_dropped: Mapped[int] = mapped_column(Integer, default=0)
    rules: Mapped[dict[str, Any] | None]
    # protocol.wire.layout_hash of the seats last stored from this edge's full birth: a birth
    # naming this hash needs no seats; another hash makes the hub ask for the layout.
    layout_hash: Mapped[str] = mapped_column(String(32), default="", server_default="")


class Channel(Base):
    """Latest health of one camera channel (from health messages)."""

    __tablename__ = "channels"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    channel: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    fps: Mapped[float] = mapped_column(default=0.0)
    last_frame_age_s: Mapped[float | None]
    latency_ms: Mapped[float | None]
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[float]
    # The picture's drift from the desk references (fraction of the frame width; None: not
    # measured) and whether it is beyond the edge's tolerance: "camera moved" (issue 17).
    drift: Mapped[float | None]
    camera_moved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Seat(Base):
    __tablename__ = "seats"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(63))
    channel: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(40), default="desk")
    polygon: Mapped[list[Any]]  # [[x, y], ...] normalised 0..1
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    desk: Mapped[list[Any] | None]  # the desk zone (SeatDef.desk), same coordinates; None: derived on the edge


class SeatStateRow(Base):
    """Current state of a seat. ``observed_at`` (edge clock) orders updates so a replayed
    (historical) delta never overwrites a newer state."""

    __tablename__ = "seat_states"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[float]  # capture time the seat entered this state
    observed_at: Mapped[float]
    updated_at: Mapped[float]  # hub clock
    edge_id: Mapped[str] = mapped_column(String(63))
    # The edge carried this state over its restart: ``since`` is when it watched again, the time
    # before is unknown (protocol SeatSnapshot.resumed; pages say so, issue 19 point 8).
    resumed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SeatEvent(Base):
    """One seat transition. ``at`` is the capture time of the confirming frame (epoch s)."""

    __tablename__ = "seat_events"
    __table_args__ = (
        # store_id is part of the key: one store's edge must never make another store's events duplicates.
        # ``at`` too: on PostgreSQL the table is partitioned by it (hub/db/partitions.py), and a key
        # of a partitioned table holds its partition key (an event's ``at`` never changes on redelivery).
        UniqueConstraint("store_id", "edge_id", "boot_id", "seq", "at", name="uq_seat_events_store_edge_boot_seq"),
        Index("ix_seat_events_store_at", "store_id", "at", "id"),
        Index("ix_seat_events_store_seat_at", "store_id", "seat_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(63))
    seat_id: Mapped[str] = mapped_column(String(63))
    edge_id: Mapped[str] = mapped_column(String(63))
    boot_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[float]
    evidence: Mapped[dict[str, Any]]
    historical: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[float]


class SeatHourRow(Base):
    """Hourly rollup of one seat (hub/stats/rollup.py): the statistics of one UTC hour and the
    seat's state and open visit at its end (what the next hour needs of the past). Maintained by the
    ingest writer as events are stored, late ones included (hub/stats/rollup_db.py)."""

    __tablename__ = "seat_hours"
    __table_args__ = (Index("ix_seat_hours_store_hour", "store_id", "hour"),)
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    seat_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    hour: Mapped[float] = mapped_column(primary_key=True)  # UTC hour start, epoch s
    occupied_s: Mapped[float]
    empty_s: Mapped[float]
    away_s: Mapped[float]
    abandoned_s: Mapped[float]
    unknown_s: Mapped[float]
    entries: Mapped[int] = mapped_column(Integer)
    stays: Mapped[int] = mapped_column(Integer)
    stay_total_s: Mapped[float]
    abandoned_incidents: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    end_state: Mapped[str] = mapped_column(String(16))
    visit_since: Mapped[float | None]
    # capture time of the hour's last event: new events at or after it are appended to the row
    # (hub.stats.rollup.append_seat) instead of recomputing the hour from its events
    last_at: Mapped[float | None]


class StoreHourRow(Base):
    """Hourly rollup of one store: sums of its seat hours, and how many seats ended the hour in
    each state (to fill the hours after it and cut the last one without reading seats)."""

    __tablename__ = "store_hours"
    __table_args__ = (Index("ix_store_hours_hour", "hour"),)
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    hour: Mapped[float] = mapped_column(primary_key=True)
    seats: Mapped[int] = mapped_column(Integer)
    occupied_s: Mapped[float]
    empty_s: Mapped[float]
    away_s: Mapped[float]
    abandoned_s: Mapped[float]
    unknown_s: Mapped[float]
    entries: Mapped[int] = mapped_column(Integer)
    stays: Mapped[int] = mapped_column(Integer)
    stay_total_s: Mapped[float]
    abandoned_incidents: Mapped[int] = mapped_column(Integer)
    end_occupied: Mapped[int] = mapped_column(Integer)
    end_empty: Mapped[int] = mapped_column(Integer)
    end_away: Mapped[int] = mapped_column(Integer)
    end_abandoned: Mapped[int] = mapped_column(Integer)
    end_unknown: Mapped[int] = mapped_column(Integer)


class RollupHead(Base):
    """Per store, the last hour its rollups are materialised for (every active seat with an event has
    a row for each hour from its first event's up to it). The row is also the lock that orders two
    replicas updating one store's rollups."""

    __tablename__ = "rollup_heads"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    through: Mapped[float | None]


class Ingested(Base):
    """Dedupe keys of every sequenced edge message (insert-or-ignore decides 'new or redelivery')."""

    __tablename__ = "ingested"
    # retention deletes health keys after an hour, the rest after days (hub/db/retention.py)
    __table_args__ = (Index("ix_ingested_health_received", "received_at", postgresql_where=text("kind = 'health'"),
                            sqlite_where=text("kind = 'health'")),)
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    boot_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[float] = mapped_column(index=True)


class Alert(Base):
    """Written by the alert service; the dashboard reads open ones."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_store_opened", "store_id", "opened_at"), Index("ix_alerts_dedupe", "dedupe_key"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(63))
    seat_id: Mapped[str | None] = mapped_column(String(63))
    edge_id: Mapped[str | None] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[float]
    closed_at: Mapped[float | None]
    last_sent_at: Mapped[float | None]
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(300))


class ConfigRow(Base):
    """Desired ROI config versions pushed to an edge, and what the edge answered."""

    __tablename__ = "configs"
    __table_args__ = (UniqueConstraint("store_id", "edge_id", "version", name="uq_configs_edge_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(63))
    edge_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    seats: Mapped[list[Any]]
    rules: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    acked_version: Mapped[int | None] = mapped_column(Integer)
    ack_error: Mapped[str | None] = mapped_column(Text)
    acked_at: Mapped[float | None]


class User(Base):
    """A dashboard/API account. ``role``: admin | hq_viewer | staff (staff: only ``UserStore`` rows)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(63), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float]
    updated_at: Mapped[float]


class UserStore(Base):
    __tablename__ = "user_stores"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)


class SessionRow(Base):
    """A login session. Only the SHA-256 of the cookie's token is stored (a database leak gives no
    usable cookie); ``csrf_token`` must come back with every state-changing request."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float]
    expires_at: Mapped[float] = mapped_column(index=True)
    addr: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """Who did what: logins, failed logins (also the login rate limit's memory), user changes,
    config pushes, snapshot requests and views."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_kind_user_at", "kind", "username", "at"),
        Index("ix_audit_kind_addr_at", "kind", "addr", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[float]
    kind: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(63), default="")  # who (or who was tried)
    addr: Mapped[str] = mapped_column(String(64), default="")
    store_id: Mapped[str | None] = mapped_column(String(63))
    detail: Mapped[str] = mapped_column(Text, default="")


class EdgeAccount(Base):
    """The MQTT account of one edge (``seat-hub store add``); ``password_hash`` is in Mosquitto's
    own PBKDF2-SHA512 format (``$7$``), written to the broker's password file by ``broker-acl``."""

    __tablename__ = "edge_accounts"
    username: Mapped[str] = mapped_column(String(127), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(63), index=True)
    edge_id: Mapped[str] = mapped_column(String(63))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[float]
    rotated_at: Mapped[float]


class Snapshot(Base):
    """One requested camera frame for drawing ROIs (faces blurred on the edge); kept 7 days at most."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_store_edge", "store_id", "edge_id", "requested_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(63))
    edge_id: Mapped[str] = mapped_column(String(63))
    channel: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by: Mapped[str] = mapped_column(String(63))
    requested_at: Mapped[float]
    received_at: Mapped[float | None]
    jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    faces_blurred: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------- seat system (kiosk), issue 18
# Privacy: these tables hold seat states and product types only, never a customer's name or any
# other identifier (docs/security.md); tests grep the whole database for the names a kiosk sent.


class KioskSeatRow(Base):
    """One seat of the store's floor plan: imported from the kiosk (``source`` "kiosk") or placed
    by hand (``source`` "manual", no kiosk state). ``camera_seat_id`` maps it to a camera seat."""

    __tablename__ = "kiosk_seats"
    __table_args__ = (UniqueConstraint("store_id", "camera_seat_id", name="uq_kiosk_seats_camera"),)
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    kiosk_seat_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="kiosk")
    section: Mapped[str] = mapped_column(String(40), default="")
    row: Mapped[int] = mapped_column(Integer, default=0)
    col: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(63), default="")
    product: Mapped[str] = mapped_column(String(16), default="")
    walls: Mapped[int] = mapped_column(Integer, default=0)
    camera_seat_id: Mapped[str | None] = mapped_column(String(63))
    present: Mapped[bool] = mapped_column(Boolean, default=True)  # false: gone from the kiosk's last list
    state: Mapped[str | None] = mapped_column(String(16))  # free | sold | in_use; None: no kiosk state
    state_since: Mapped[float | None]  # hub clock: when this state was first seen
    remaining_s: Mapped[int | None] = mapped_column(Integer)
    checked_out_at: Mapped[float | None]  # the last in_use -> not in_use change
    updated_at: Mapped[float]


class KioskStatus(Base):
    """Health of one store's kiosk link (the poller or the webhook writes it; pages read it)."""

    __tablename__ = "kiosk_status"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(16))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    unknown_since: Mapped[float | None]  # the first failure after the last success
    last_ok_at: Mapped[float | None]
    last_attempt_at: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    latency_ms: Mapped[float | None]
    seats: Mapped[int] = mapped_column(Integer, default=0)


class KioskEvent(Base):
    """A kiosk state change of one seat (hub clock), for the sold-vs-occupied statistics."""

    __tablename__ = "kiosk_events"
    __table_args__ = (Index("ix_kiosk_events_store_at", "store_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(63))
    kiosk_seat_id: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[float]


class KioskNonce(Base):
    """Webhook signatures already used (replay protection), kept for the allowed clock skew."""

    __tablename__ = "kiosk_nonces"
    store_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[float] = mapped_column(index=True)
