"""seats.desk: the optional desk zone of a seat (SeatDef.desk, issue 12), as sent in full births.

Revision ID: 0004_seat_desk
Revises: 0003_layout_hash
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_seat_desk"
down_revision = "0003_layout_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seats") as batch_op:
        batch_op.add_column(sa.Column("desk", sa.JSON(), nullable=True))
    # Seat rows stored before this column lack their desks, yet an edge's layout hash (which
    # covers the desks) would still match and the hub would never ask again: forget the hashes,
    # so each edge's next birth by hash brings its full layout once.
    op.execute(sa.text("UPDATE edges SET layout_hash = ''"))


def downgrade() -> None:
    with op.batch_alter_table("seats") as batch_op:
        batch_op.drop_column("desk")
