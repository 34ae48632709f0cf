"""ingested: a partial index on received_at of the health dedupe keys, for retention
(hub/db/retention.py). Health keys go after an hour, seat keys after days: without it, each delete
batch of old health keys walked the received_at index through all the days of seat keys first.

Revision ID: 0007_ingested_health_index
Revises: 0006_kiosk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_ingested_health_index"
down_revision = "0006_kiosk"
branch_labels = None
depends_on = None

_HEALTH = sa.text("kind = 'health'")


def upgrade() -> None:
    op.create_index("ix_ingested_health_received", "ingested", ["received_at"],
                    postgresql_where=_HEALTH, sqlite_where=_HEALTH)


def downgrade() -> None:
    op.drop_index("ix_ingested_health_received", table_name="ingested")
