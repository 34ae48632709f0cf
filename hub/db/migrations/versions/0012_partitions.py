"""Time partitions on PostgreSQL: ``seat_events`` by month of ``at``. The partitions themselves
are made by ``hub.db.partitions.ensure_partitions`` (called after every upgrade): this revision
makes the partitioned table with its DEFAULT partition and copies the rows over. A key of a
partitioned table holds the partition key: the events' unique key gets ``at`` (on SQLite too, so
both backends have the same keys; SQLite is not partitioned).

Revision ID: 0012_partitions
Revises: 0011_store_timezone
"""

from __future__ import annotations

from alembic import op

revision = "0012_partitions"
down_revision = "0011_store_timezone"
branch_labels = None
depends_on = None

_EVENT_KEY = ["store_id", "edge_id", "boot_id", "seq", "at"]


def _postgresql() -> None:
    x = op.execute
    # the new parent takes the columns (and the id sequence) of the old table
    x("ALTER TABLE seat_events RENAME TO seat_events_old")
    x("ALTER SEQUENCE seat_events_id_seq OWNED BY NONE")
    x("CREATE TABLE seat_events (LIKE seat_events_old INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    x("CREATE TABLE seat_events_default PARTITION OF seat_events DEFAULT")
    x("INSERT INTO seat_events SELECT * FROM seat_events_old")
    x("DROP TABLE seat_events_old")
    x("ALTER SEQUENCE seat_events_id_seq OWNED BY seat_events.id")
    x("ALTER TABLE seat_events ADD CONSTRAINT seat_events_pkey PRIMARY KEY (id, at)")
    x("ALTER TABLE seat_events ADD CONSTRAINT uq_seat_events_store_edge_boot_seq UNIQUE "
      "(store_id, edge_id, boot_id, seq, at)")
    op.create_index("ix_seat_events_store_at", "seat_events", ["store_id", "at", "id"])
    op.create_index("ix_seat_events_store_seat_at", "seat_events", ["store_id", "seat_id", "at"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        with op.batch_alter_table("seat_events") as b:
            b.drop_constraint("uq_seat_events_store_edge_boot_seq", type_="unique")
            b.create_unique_constraint("uq_seat_events_store_edge_boot_seq", _EVENT_KEY)


def downgrade() -> None:
    raise NotImplementedError("0012_partitions is one-way: restore the database backup taken before upgrading")
