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

from hub.cli.accounts import user_app
from hub.cli.common import ConfigOpt, load_settings_or_exit, migrate_or_exit
from hub.cli.kiosk import import_seats
from hub.cli.stores import broker_acl, store_app

app = typer.Typer(
    help="Seat monitoring hub: MQTT ingest from store edges, database of record, live dashboard and API.\n\n"
    "Without --config the embedded defaults are used: SQLite at ./var/hub.sqlite and the MQTT broker "
    "at 127.0.0.1:1883. Copy hub.toml.example to hub.toml to change them (PostgreSQL: "
    "database.url = \"postgresql+asyncpg://user@host/db\").",
    no_args_is_help=True,
    add_completion=False,
)

def _version(value: bool) -> None:
    if value:
        from protocol.version import version_line

        typer.echo(version_line("seat-hub"))
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
) -> None:
    """(Options that come before the command.)"""


CONFIG_ENV = "SEAT_HUB_CONFIG"  # how `serve --workers N` hands the settings file to each worker process


CLIENT_ID_ENV = "SEAT_HUB_CLIENT_ID_BASE"  # with --workers: the default MQTT client id the workers number
SLOTS_ENV = "SEAT_HUB_WORKER_SLOTS"
MQTT_PORT_ENV = "SEAT_HUB_MQTT_PORT"  # `serve --mqtt-port` for the worker processes
_slot_locks: list = []  # lock files held for the life of the worker process


def claim_worker_slot(base: str, slots: int, lock_dir: Path | None = None) -> str:
    """``{base}-w{k}`` for the lowest slot k no live worker holds (an flock, released when the
    process dies): a worker that uvicorn restarts gets the dead one's id, and with it its kept
    MQTT session, instead of leaving that session to withhold its share of the messages."""
    import fcntl
    import os
    import tempfile

    d = lock_dir or Path(tempfile.gettempdir()) / "seat-hub-slots"
    d.mkdir(parents=True, exist_ok=True)
    for k in range(max(1, slots)):
        f = open(d / f"{base}-w{k}.lock", "w")  # noqa: SIM115 - held open while the worker lives
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        _slot_locks.append(f)
        return f"{base}-w{k}"
    return f"{base}-p{os.getpid()}"  # more workers than slots: cannot happen with uvicorn's supervisor


def app_from_env():
    """App factory for uvicorn's worker processes (``hub.cli.main:app_from_env``)."""
    import os

    import msgspec

    from hub.app import create_app
    from hub.settings import load_settings

    settings = load_settings(os.environ.get(CONFIG_ENV) or None)
    if base := os.environ.get(CLIENT_ID_ENV):
        cid = claim_worker_slot(base, int(os.environ.get(SLOTS_ENV, "1")))
        settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, client_id=cid))
    if mqtt_port := os.environ.get(MQTT_PORT_ENV):  # `serve --mqtt-port`
        settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=int(mqtt_port)))
    return create_app(settings)


def check_serve_options(settings, workers: int) -> str | None:
    """Why these settings cannot run with ``workers`` processes, or None."""
    if workers < 1:
        return "--workers must be >= 1"
    if workers > 1 and settings.database.url.startswith("sqlite"):
        return ("--workers > 1 needs PostgreSQL (several processes writing one SQLite file lock each other out): "
                'set database.url = "postgresql+asyncpg://..." or use --workers 1')
    if workers > 1 and settings.mqtt.client_id:
        return ("--workers > 1 with a fixed mqtt.client_id: the workers would take the same MQTT session from "
                "each other; leave client_id empty or run one worker per replica, each with its own client_id")
    return None


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="listen address (default: http.host from the config)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default: http.port from the config)")] = None,
    mqtt_port: Annotated[int | None, typer.Option(
        help="port of the MQTT broker on mqtt.host (default: mqtt.port from the config, 1883)")] = None,
    workers: Annotated[int, typer.Option(
        help="worker processes (each one is a full hub replica on the MQTT shared subscription; needs PostgreSQL "
             "above 1)", envvar="SEAT_HUB_WORKERS")] = 1,
    proxy_headers: Annotated[bool, typer.Option(
        help="trust X-Forwarded-For/-Proto from the proxies in --forwarded-allow-ips or http.trusted_proxies "
             "(behind nginx/Caddy)")] = True,
    forwarded_allow_ips: Annotated[str, typer.Option(
        help="comma-separated proxy addresses whose X-Forwarded-* headers are trusted (default: "
             "http.trusted_proxies of hub.toml, empty: none; '*': any, only inside a private network)",
        envvar="FORWARDED_ALLOW_IPS")] = "",
    root_path: Annotated[str, typer.Option(help="URL prefix when the proxy serves the hub under a path")] = "",
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Upgrade the database schema, then serve the dashboard (/), API (/api/v1, docs at /schema),
    /healthz, /metrics and the MQTT ingest.

    Production: behind a TLS reverse proxy on the same host, e.g.
    `seat-hub serve --config /etc/seat-hub/hub.toml --workers 2` (see docs/hub-deployment.md)."""
    import os

    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings_or_exit(config)
    if problem := check_serve_options(settings, workers):
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    h, p = host or settings.http.host, port or settings.http.port
    from hub.system.preflight import Busy, check_port

    try:  # before the database, the MQTT session and the URL line: another hub may own them
        check_port(h, p)
    except Busy as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    migrate_or_exit(settings.database.url)
    import msgspec

    from hub.settings import mqtt_client_id

    # The default MQTT client id is per host and HTTP port: the port actually served counts.
    settings = msgspec.structs.replace(settings, http=msgspec.structs.replace(settings.http, host=h, port=p))
    if mqtt_port:
        settings = msgspec.structs.replace(settings, mqtt=msgspec.structs.replace(settings.mqtt, port=mqtt_port))
    typer.echo(f"seat-hub: dashboard at http://{h}:{p}/  (API docs at /schema), {workers} worker(s)")
    # No per-message deflate: live updates are ~100-byte JSON, and compressing each one per client
    # was 5 % of the hub's CPU with 200 dashboards (bench/bench_live.py, py-spy).
    # X-Forwarded-* only from configured proxies: trusted by default, anyone on the hub's host could
    # rotate X-Forwarded-For and never meet the per-address login limit.
    trusted = forwarded_allow_ips or ",".join(settings.http.trusted_proxies)
    common = dict(host=h, port=p, log_level=log_level.lower(), proxy_headers=proxy_headers and bool(trusted),
                  forwarded_allow_ips=trusted or None, root_path=root_path, ws_per_message_deflate=False)
    if workers == 1:
        from hub.app import create_app

        uvicorn.run(create_app(settings), **common)
    else:
        # Worker processes build their own app from the same file (an app object cannot be shared).
        os.environ[CONFIG_ENV] = str(config.resolve()) if config else ""
        if mqtt_port:
            os.environ[MQTT_PORT_ENV] = str(mqtt_port)
        if not settings.mqtt.client_id and settings.mqtt.session_expiry_s > 0:
            # Each worker takes a numbered slot of this id, so a restarted worker resumes its session.
            os.environ[CLIENT_ID_ENV] = mqtt_client_id(settings)
            os.environ[SLOTS_ENV] = str(workers)
        uvicorn.run("hub.cli.main:app_from_env", factory=True, workers=workers, **common)


@app.command()
def migrate(config: ConfigOpt = None) -> None:
    """Upgrade the database schema in place to the newest version (safe to run repeatedly)."""
    settings = load_settings_or_exit(config)
    migrate_or_exit(settings.database.url)
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


app.add_typer(user_app, name="user")
app.add_typer(store_app, name="store")
app.command("broker-acl")(broker_acl)
store_app.command("import-seats")(import_seats)  # issue 18: the kiosk's seat list

if __name__ == "__main__":
    app()
