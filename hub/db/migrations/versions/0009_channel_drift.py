"""channels.drift, channels.camera_moved: how far a channel's picture moved from the edge's desk
references, and whether beyond its tolerance (issue 17: the hub shows "camera moved: redraw the
seats or re-take the reference", as `seat-edge status` does). Rows of older edges read "not
measured" (NULL) and "not moved".

Revision ID: 0009_channel_drift
Revises: 0008_seat_state_resumed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_channel_drift"
down_revision = "0008_seat_state_resumed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.add_column(sa.Column("drift", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("camera_moved", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_column("camera_moved")
        batch_op.drop_column("drift")
