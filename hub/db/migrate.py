"""Run the Alembic migrations programmatically (``seat-hub migrate`` and ``serve`` at start)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.session import make_engine

DB_DIR = Path(__file__).resolve().parent

# Alembic says "setup plugin ..." (when imported), "Context impl SQLiteImpl", "Will assume
# non-transactional DDL" and the like at INFO on every start: noise in a hub's log. Its warnings
# and errors still show. (Hence alembic is imported inside the functions, after this line.)
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(DB_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(DB_DIR / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` in place (call from async code)."""

    from alembic import command

    def run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    # the time partitions up to a few periods ahead (PostgreSQL; nothing on SQLite)
    import time

    from hub.db.partitions import ensure_partitions

    async with engine.begin() as conn:
        await ensure_partitions(conn, time.time())


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade from sync code (the CLI). Must not be called inside a running event loop."""

    async def main() -> None:
        engine = make_engine(url)
        try:
            await upgrade_async(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(main())


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
