"""``seat-hub``: run the central hub.

  seat-hub serve --config hub.toml      migrate the database, then serve dashboard, API and ingest
  seat-hub migrate --config hub.toml    only upgrade the database schema in place
  seat-hub demo                         everything on one machine with a sample camera
  seat-hub user add NAME --role admin   dashboard accounts (see seat-hub user --help)
  seat-hub store add|bundle STORE       register a store, write its edge's provisioning bundle
  seat-hub broker-acl --out DIR         Mosquitto password + ACL files for all edges and the hub
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Seat monitoring hub: MQTT ingest from store edges, database of record, live dashboard and API.\n\n"
    "Without --config the embedded defaults are used: SQLite at ./var/hub.sqlite and the MQTT broker "
    "at 127.0.0.1:1883. Copy hub.toml.example to hub.toml to change them (PostgreSQL: "
    "database.url = \"postgresql+asyncpg://user@host/db\").",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="hub.toml (see hub.toml.example); omitted: embedded defaults"),
]


def _settings(config: Path | None):
    from hub.settings import SettingsError, load_settings

    try:
        return load_settings(config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _migrate(url: str) -> None:
    from hub.db.migrate import upgrade

    try:
        upgrade(url)
    except Exception as exc:
        typer.echo(f"error: cannot migrate the database at {url}: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="listen address (default: http.host from the config)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default: http.port from the config)")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Upgrade the database schema, then serve the dashboard (/), API (/api/v1, docs at /schema),
    /healthz, /metrics and the MQTT ingest."""
    import uvicorn

    from hub.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(config)
    _migrate(settings.database.url)
    h, p = host or settings.http.host, port or settings.http.port
    typer.echo(f"seat-hub: dashboard at http://{h}:{p}/  (API docs at /schema)")
    # No per-message deflate: live updates are ~100-byte JSON, and compressing each one per client
    # was 5 % of the hub's CPU with 200 dashboards (bench/bench_live.py, py-spy).
    uvicorn.run(create_app(settings), host=h, port=p, log_level=log_level.lower(), ws_per_message_deflate=False)


@app.command()
def migrate(config: ConfigOpt = None) -> None:
    """Upgrade the database schema in place to the newest version (safe to run repeatedly)."""
    settings = _settings(config)
    _migrate(settings.database.url)
    typer.echo(f"database at {settings.database.url} is up to date")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="dashboard port")] = 8080,
    for_s: Annotated[float | None, typer.Option("--for", help="run this many seconds, then exit 0")] = None,
    store: Annotated[str, typer.Option(help="store id of the demo edge")] = "demo",
    config: ConfigOpt = None,
) -> None:
    """Run hub + broker + one edge with a sample camera on this machine and print the dashboard URL."""
    from hub.demo import run_demo  # the demo pulls in the edge agent: only import it when asked

    raise typer.Exit(run_demo(port=port, for_s=for_s, store=store, config=config) or 0)


from hub.auth_cli import broker_acl, store_app, user_app  # noqa: E402 - registered once the main app exists

app.add_typer(user_app, name="user")
app.add_typer(store_app, name="store")
app.command("broker-acl")(broker_acl)

if __name__ == "__main__":
    app()
