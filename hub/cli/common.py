"""What every ``seat-hub`` command shares: the ``--config`` option, loading the settings and
migrating the database with errors that say what to do, and running a function against the
database. The command modules (main, accounts, stores) import this; nothing here imports them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="hub.toml (see hub.toml.example); omitted: embedded defaults"),
]


def load_settings_or_exit(config: Path | None):
    """The hub's settings; a settings error is printed and exits 2."""
    from hub.settings import SettingsError, load_settings

    try:
        return load_settings(config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def migrate_or_exit(url: str) -> None:
    """Upgrade the schema; a failure is printed and exits 1."""
    from hub.db.migrate import upgrade

    try:
        upgrade(url)
    except Exception as exc:
        typer.echo(f"error: cannot migrate the database at {url}: {exc}", err=True)
        raise typer.Exit(1) from None


def run_db(config: Path | None, fn: Callable[..., Awaitable[T]]) -> T:
    """Run ``fn(session)`` against the configured (migrated) database and commit."""
    from hub.auth.users import AuthError
    from hub.db.session import make_engine, make_sessionmaker

    settings = load_settings_or_exit(config)
    migrate_or_exit(settings.database.url)

    async def main() -> T:
        engine = make_engine(settings.database.url)
        try:
            async with make_sessionmaker(engine)() as db:
                out = await fn(db)
                await db.commit()
                return out
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
