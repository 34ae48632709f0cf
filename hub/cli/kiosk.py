"""``seat-hub store import-seats STORE``: import the kiosk's seat list (seat numbers, product
types, the grid with walls) into the hub's floor plan. Re-running keeps every camera mapping and
reports the seats added and removed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import ConfigOpt


def import_seats(
    store: Annotated[str, typer.Argument(help="store id, e.g. oryudong")],
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="a JSON or CSV seat list (docs/kiosk.md) instead of asking the store's kiosk")] = None,
    config: ConfigOpt = None,
) -> None:
    """Import the store's seats from its kiosk ([kiosk.STORE] in hub.toml: GoSca is read over HTTP,
    the generic adapter reads its seat_file) or from --file. Then map camera seats to kiosk seats
    on the store's seat-link page (/stores/STORE/kiosk).

    Example: seat-hub store import-seats oryudong --config hub.toml"""
    import asyncio

    from hub.cli.common import load_settings_or_exit, migrate_or_exit
    from hub.db.session import make_engine, make_sessionmaker
    from hub.kiosk import generic
    from hub.kiosk.model import KioskError
    from hub.kiosk.service import KioskService
    from protocol import TopicError, validate_id

    try:
        validate_id(store, "store id")
    except TopicError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = load_settings_or_exit(config)
    if file is None and store not in settings.kiosk:
        typer.echo(f"error: store {store!r} has no kiosk in the settings: add a [kiosk.{store}] table to hub.toml "
                   "(see hub.toml.example) or give a seat list with --file", err=True)
        raise typer.Exit(2)
    migrate_or_exit(settings.database.url)

    async def main():
        snap = None
        if file is not None:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise KioskError(f"cannot read {file}: {exc.strerror or exc}") from None
            snap = generic.parse_file(file.name, data)
        engine = make_engine(settings.database.url)
        try:
            svc = KioskService(settings, make_sessionmaker(engine))
            return await svc.import_seats(store, snap)
        finally:
            await engine.dispose()

    try:
        rep = asyncio.run(main())
    except KioskError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{store}: {len(rep.added)} added, {len(rep.removed)} removed, {len(rep.back)} back, "
               f"{rep.kept_mappings} camera mappings kept")
    if rep.added:
        typer.echo("added: " + ", ".join(rep.added))
    if rep.removed:
        typer.echo("removed (no longer on the kiosk; mappings kept in case they return): " + ", ".join(rep.removed))
    for p in rep.problems:
        typer.echo(f"skipped: {p}", err=True)
    typer.echo(f"next: map camera seats to kiosk seats at /stores/{store}/kiosk")
