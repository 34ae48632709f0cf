"""Hourly rollups (seat_hours, store_hours, rollup_heads), filled from the events already stored.
The ingest writer keeps them up to date from here on (hub/stats/rollup_db.py); history pages, the
statistics API and the HQ overview read them instead of computing from every raw event.

Revision ID: 0010_rollups
Revises: 0009_channel_drift
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rollups"
down_revision = "0009_channel_drift"
branch_labels = None
depends_on = None

_NUM = ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s")
_INT = ("entries", "stays")


def _stats_columns() -> list[sa.Column]:
    cols = [sa.Column(c, sa.Double(), nullable=False) for c in _NUM]
    cols += [sa.Column(c, sa.Integer(), nullable=False) for c in _INT]
    cols += [sa.Column("stay_total_s", sa.Double(), nullable=False),
             sa.Column("abandoned_incidents", sa.Integer(), nullable=False)]
    return cols


def upgrade() -> None:
    op.create_table(
        "seat_hours",
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("seat_id", sa.String(length=63), nullable=False),
        sa.Column("hour", sa.Double(), nullable=False),
        *_stats_columns(),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("end_state", sa.String(length=16), nullable=False),
        sa.Column("visit_since", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("store_id", "seat_id", "hour"),
    )
    op.create_index("ix_seat_hours_store_hour", "seat_hours", ["store_id", "hour"])
    op.create_table(
        "store_hours",
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("hour", sa.Double(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        *_stats_columns(),
        *[sa.Column(f"end_{s}", sa.Integer(), nullable=False)
          for s in ("occupied", "empty", "away", "abandoned", "unknown")],
        sa.PrimaryKeyConstraint("store_id", "hour"),
    )
    op.create_index("ix_store_hours_hour", "store_hours", ["hour"])
    op.create_table(
        "rollup_heads",
        sa.Column("store_id", sa.String(length=63), nullable=False),
        sa.Column("through", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("store_id"),
    )
    _backfill(op.get_bind())


def _backfill(conn) -> None:
    """The rollups of the events stored so far (the same pure code as the writer's)."""
    from hub.stats.rollup import Carry, hour_floor, roll_seat
    from hub.stats.rollup_db import _STORE_SUMS

    # the columns of seat_hours as this revision creates it (later revisions add more)
    seat_cols = ("occupied_s", "empty_s", "away_s", "abandoned_s", "unknown_s", "entries", "stays", "stay_total_s",
                 "abandoned_incidents", "events", "end_state", "visit_since")

    stores = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT store_id FROM seat_events"))]
    states = ("empty", "occupied", "away", "abandoned", "unknown")
    for store in stores:
        evs: dict[str, list[tuple[float, str]]] = {}
        for seat, at, to in conn.execute(sa.text(
                "SELECT seat_id, at, to_state FROM seat_events WHERE store_id = :s ORDER BY at, id"), {"s": store}):
            if to in states:
                evs.setdefault(seat, []).append((at, to))
        if not evs:
            continue
        active = {r[0] for r in conn.execute(sa.text(
            "SELECT seat_id FROM seats WHERE store_id = :s AND active"), {"s": store})}
        through = max(hour_floor(e[-1][0]) for e in evs.values())
        rows = []
        for seat, e in evs.items():
            last = through if seat in active else hour_floor(e[-1][0])
            for r in roll_seat(seat, Carry(), e, hour_floor(e[0][0]), last):
                rows.append({"store_id": store, "seat_id": seat, "hour": r.start,
                             **{c: getattr(r, c) for c in seat_cols}})
        cols = ["store_id", "seat_id", "hour", *seat_cols]
        conn.execute(sa.text(f"INSERT INTO seat_hours ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                     rows)
        conn.execute(sa.text(_STORE_SUMS), {"store": store, "lo": -1e18, "hi": through})
        conn.execute(sa.text("INSERT INTO rollup_heads (store_id, through) VALUES (:s, :t)"), {"s": store, "t": through})


def downgrade() -> None:
    op.drop_table("rollup_heads")
    op.drop_index("ix_store_hours_hour", table_name="store_hours")
    op.drop_table("store_hours")
    op.drop_index("ix_seat_hours_store_hour", table_name="seat_hours")
    op.drop_table("seat_hours")
