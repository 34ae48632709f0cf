"""stores.timezone: a store's own time zone (IANA name); "" means the hub's (hub.toml
``timezone``), which is what every store used before (issue 19 point 4).

Revision ID: 0011_store_timezone
Revises: 0010_rollups
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_store_timezone"
down_revision = "0010_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("stores") as batch_op:
        batch_op.drop_column("timezone")
