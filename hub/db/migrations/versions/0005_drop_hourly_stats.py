"""Drop hourly_stats: planned for precomputed statistics, never written or read. Statistics are
computed on query from seat_events (hub.stats), so replayed events count as soon as they land.

Revision ID: 0005_drop_hourly_stats
Revises: 0004_seat_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_drop_hourly_stats"
down_revision = "0004_seat_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("hourly_stats")


def downgrade() -> None:
    # The table as 0001 made it (empty: nothing ever wrote it).
    op.create_table(
        "hourly_stats",
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("seat_id", sa.String(length=63), nullable=False),
        sa.Column("hour_start", sa.Double(), nullable=False),
        sa.Column("occupied_s", sa.Double(), nullable=False),
        sa.Column("vacant_s", sa.Double(), nullable=False),
        sa.Column("away_s", sa.Double(), nullable=False),
        sa.Column("abandoned_s", sa.Double(), nullable=False),
        sa.Column("unknown_s", sa.Double(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("stays", sa.Integer(), nullable=False),
        sa.Column("stay_s_total", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "seat_id", "hour_start"),
    )
