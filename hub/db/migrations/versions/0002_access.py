"""access control: users, user_stores, sessions, audit_log, edge_accounts, snapshots; the dedupe
keys (ingested primary key, seat_events unique) include store_id.

Revision ID: 0002_access
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_access"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _set_dedupe_keys(ingested_cols: list[str], events_cols: list[str], old_uq: str, new_uq: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ingested_pkey", "ingested", type_="primary")
        op.create_primary_key("ingested_pkey", "ingested", ingested_cols)
    else:  # SQLite cannot alter a primary key: copy into a new table
        op.create_table(
            "ingested_new",
            sa.Column("store_id", sa.String(63), nullable=False),
            sa.Column("edge_id", sa.String(63), nullable=False),
            sa.Column("boot_id", sa.String(64), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("received_at", sa.Double(), nullable=False),
            sa.PrimaryKeyConstraint(*ingested_cols, name="ingested_pkey"),
        )
        op.execute("INSERT INTO ingested_new (store_id, edge_id, boot_id, seq, kind, received_at) "
                   "SELECT store_id, edge_id, boot_id, seq, kind, received_at FROM ingested")
        op.drop_index("ix_ingested_received_at", "ingested")
        op.drop_table("ingested")
        op.rename_table("ingested_new", "ingested")
        op.create_index("ix_ingested_received_at", "ingested", ["received_at"])
    with op.batch_alter_table("seat_events") as b:
        b.drop_constraint(old_uq, type_="unique")
        b.create_unique_constraint(new_uq, events_cols)


def upgrade() -> None:
    _set_dedupe_keys(["store_id", "edge_id", "boot_id", "seq"], ["store_id", "edge_id", "boot_id", "seq"],
                     "uq_seat_events_edge_boot_seq", "uq_seat_events_store_edge_boot_seq")
    op.create_table(
        "users",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(63), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "user_stores",
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("store_id", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "store_id"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("addr", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("username", sa.String(63), nullable=False),
        sa.Column("addr", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(63), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_kind_user_at", "audit_log", ["kind", "username", "at"])
    op.create_index("ix_audit_kind_addr_at", "audit_log", ["kind", "addr", "at"])
    op.create_table(
        "edge_accounts",
        sa.Column("username", sa.String(127), nullable=False),
        sa.Column("store_id", sa.String(63), nullable=False),
        sa.Column("edge_id", sa.String(63), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("rotated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index("ix_edge_accounts_store_id", "edge_accounts", ["store_id"])
    op.create_table(
        "snapshots",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(63), nullable=False),
        sa.Column("edge_id", sa.String(63), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(63), nullable=False),
        sa.Column("requested_at", sa.Double(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=True),
        sa.Column("jpeg", sa.LargeBinary(), nullable=True),
        sa.Column("faces_blurred", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_snapshots_store_edge", "snapshots", ["store_id", "edge_id", "requested_at"])


def downgrade() -> None:
    op.drop_table("snapshots")
    op.drop_table("edge_accounts")
    op.drop_table("audit_log")
    op.drop_table("sessions")
    op.drop_table("user_stores")
    op.drop_table("users")
    _set_dedupe_keys(["edge_id", "boot_id", "seq"], ["edge_id", "boot_id", "seq"],
                     "uq_seat_events_store_edge_boot_seq", "uq_seat_events_edge_boot_seq")
