"""0006_kiosk on PostgreSQL and SQLite: a hub at 0005 with data upgrades, gets the kiosk tables
(with the one-camera-seat-per-floor-seat constraint), and downgrades back cleanly."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from hub.db.migrate import alembic_config, current_revision, upgrade
from hub.db.session import make_engine

KIOSK_TABLES = {"kiosk_seats", "kiosk_status", "kiosk_events", "kiosk_nonces"}


async def _state(url: str) -> tuple[set[str], str | None]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        return names, await current_revision(engine)
    finally:
        await engine.dispose()


async def _use(url: str) -> None:
    engine = make_engine(url)
    row = ("INSERT INTO kiosk_seats (store_id, kiosk_seat_id, source, section, row, col, label, product, walls, "
           "camera_seat_id, present, state, updated_at) VALUES ('a', :k, 'kiosk', 'A', 1, 1, '', '', 0, 's1', true, "
           "'free', 0)")
    try:
        async with engine.begin() as conn:
            await conn.execute(text(row), {"k": "A-1-1"})
        with pytest.raises(IntegrityError):  # one camera seat maps to one floor-plan seat
            async with engine.begin() as conn:
                await conn.execute(text(row), {"k": "A-1-2"})
    finally:
        await engine.dispose()


def _downgrade(url: str, rev: str) -> None:
    async def main() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                def run(sync_conn) -> None:
                    cfg = alembic_config()
                    cfg.attributes["connection"] = sync_conn
                    command.downgrade(cfg, rev)
                await conn.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_0006_kiosk_up_and_down(backend, request, tmp_path):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/k.sqlite"
    upgrade(url, "0005_drop_hourly_stats")
    names, rev = asyncio.run(_state(url))
    assert rev == "0005_drop_hourly_stats" and not names & KIOSK_TABLES
    upgrade(url, "0006_kiosk")
    names, rev = asyncio.run(_state(url))
    assert rev == "0006_kiosk" and names >= KIOSK_TABLES
    asyncio.run(_use(url))
    _downgrade(url, "0005_drop_hourly_stats")
    names, rev = asyncio.run(_state(url))
    assert rev == "0005_drop_hourly_stats" and not names & KIOSK_TABLES
    upgrade(url)
    assert asyncio.run(_state(url))[0] >= KIOSK_TABLES
