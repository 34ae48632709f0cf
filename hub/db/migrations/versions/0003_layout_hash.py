"""edges.layout_hash (births carry the seat layout by hash, protocol schema 2).

Revision ID: 0003_layout_hash
Revises: 0002_access
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_layout_hash"
down_revision = "0002_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("edges") as batch_op:
        batch_op.add_column(sa.Column("layout_hash", sa.String(length=32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("edges") as batch_op:
        batch_op.drop_column("layout_hash")
