"""seat_states.resumed: the edge carried the state over its restart, so ``since`` is when it
watched again and the time before is unknown (protocol SeatSnapshot.resumed, issue 19 point 8).

Revision ID: 0008_seat_state_resumed
Revises: 0007_ingested_health_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_seat_state_resumed"
down_revision = "0007_ingested_health_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seat_states") as batch_op:
        batch_op.add_column(sa.Column("resumed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("seat_states") as batch_op:
        batch_op.drop_column("resumed")
