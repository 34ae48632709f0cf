"""seat_hours.last_at: the capture time of the hour's last event, so the ingest writer appends a
seat's next events to its current hour instead of recomputing the hour from all its events (issue
20 item 5: a flood on one seat made every batch slower). Rows written before stay NULL: their next
event would take the recompute path once (which fills it in); the rows of each store's current hour
(the only ones the append path looks at) are filled here from the events.

Revision ID: 0013_seat_hour_last_at
Revises: 0012_partitions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_seat_hour_last_at"
down_revision = "0012_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seat_hours") as batch_op:
        batch_op.add_column(sa.Column("last_at", sa.Double(), nullable=True))
    op.execute(sa.text("""
        UPDATE seat_hours SET last_at = (
            SELECT max(e.at) FROM seat_events e
            WHERE e.store_id = seat_hours.store_id AND e.seat_id = seat_hours.seat_id
              AND e.at >= seat_hours.hour AND e.at < seat_hours.hour + 3600
              AND e.to_state IN ('empty', 'occupied', 'away', 'abandoned', 'unknown'))
        WHERE events > 0 AND hour = (SELECT h.through FROM rollup_heads h WHERE h.store_id = seat_hours.store_id)
    """))


def downgrade() -> None:
    with op.batch_alter_table("seat_hours") as batch_op:
        batch_op.drop_column("last_at")
