"""Seat system (kiosk) integration, issue 18: kiosk_seats (floor plan, mapping, kiosk state),
kiosk_status (link health), kiosk_events (state history), kiosk_nonces (webhook replay guard).

Revision ID: 0006_kiosk
Revises: 0005_drop_hourly_stats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_kiosk"
down_revision = "0005_drop_hourly_stats"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kiosk_seats",
        sa.Column("store_id", sa.String(63), primary_key=True),
        sa.Column("kiosk_seat_id", sa.String(63), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("col", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(63), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("walls", sa.Integer(), nullable=False),
        sa.Column("camera_seat_id", sa.String(63), nullable=True),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("state_since", sa.Double(), nullable=True),
        sa.Column("remaining_s", sa.Integer(), nullable=True),
        sa.Column("checked_out_at", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("store_id", "camera_seat_id", name="uq_kiosk_seats_camera"),
    )
    op.create_table(
        "kiosk_status",
        sa.Column("store_id", sa.String(63), primary_key=True),
        sa.Column("adapter", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("unknown_since", sa.Double(), nullable=True),
        sa.Column("last_ok_at", sa.Double(), nullable=True),
        sa.Column("last_attempt_at", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
    )
    op.create_table(
        "kiosk_events",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("store_id", sa.String(63), nullable=False),
        sa.Column("kiosk_seat_id", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
    )
    op.create_index("ix_kiosk_events_store_at", "kiosk_events", ["store_id", "at"])
    op.create_table(
        "kiosk_nonces",
        sa.Column("store_id", sa.String(63), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("at", sa.Double(), nullable=False),
    )
    op.create_index("ix_kiosk_nonces_at", "kiosk_nonces", ["at"])


def downgrade() -> None:
    op.drop_index("ix_kiosk_nonces_at", "kiosk_nonces")
    op.drop_table("kiosk_nonces")
    op.drop_index("ix_kiosk_events_store_at", "kiosk_events")
    op.drop_table("kiosk_events")
    op.drop_table("kiosk_status")
    op.drop_table("kiosk_seats")
