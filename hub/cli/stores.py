"""``seat-hub store ...`` and ``seat-hub broker-acl``: stores, their edges' broker accounts and
provisioning bundles, and the Mosquitto password/ACL files made from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import ConfigOpt, load_settings_or_exit, run_db

store_app = typer.Typer(
    help="Stores and their edges' broker accounts.\n\n"
    "  seat-hub store add oryudong --name \"오류동점\"      register the store and its edge's account\n"
    "  seat-hub store bundle oryudong --broker-url mqtts://hub.example.com --out ./oryudong\n"
    "                                                   new edge password + what the installer needs\n"
    "  seat-hub broker-acl --out /etc/mosquitto/seat     then reload Mosquitto",
    no_args_is_help=True,
)
EdgeOpt = Annotated[str, typer.Option("--edge", "-e", help="edge id in the store")]
# The same rule as docs/installation.md (the trial) and docs/hub-deployment.md (a real hub).
BROKER_ACL_NEXT = ("on a broker that checks logins (every real hub): seat-hub broker-acl --out DIR and reload "
                   "Mosquitto; a broker that lets anyone in (the one-machine trial) needs no broker-acl")


@store_app.command("add")
def store_add(
    store_id: Annotated[str, typer.Argument(help="store id: lowercase letters, digits, '-', '_' (e.g. oryudong)")],
    name: Annotated[str, typer.Option(help="display name, e.g. \"오류동점\"")] = "",
    edge: EdgeOpt = "edge1",
    timezone: Annotated[str | None, typer.Option(
        help="the store's time zone (IANA name, e.g. Asia/Seoul, Europe/Berlin): its pages, statistics and "
             "exports use it; \"\" = the hub's (hub.toml timezone, the default for a new store); "
             "left out: unchanged")] = None,
    config: ConfigOpt = None,
) -> None:
    """Register a store (or rename it, or set its time zone) and create its edge's MQTT account."""
    from hub.stores.provision import add_store

    settings = load_settings_or_exit(config)
    account = run_db(config, lambda db: add_store(db, store_id, name, edge, timezone=timezone))
    zone = f"time zone {timezone}" if timezone else f"time zone of the hub ({settings.timezone})"
    typer.echo(f"store {store_id} registered ({zone}); edge account {account.username}.\n"
               f"next: seat-hub store bundle {store_id} --edge {edge} --broker-url mqtt(s)://HOST --out DIR, "
               f"then {BROKER_ACL_NEXT}")


@store_app.command("list")
def store_list(config: ConfigOpt = None) -> None:
    """Stores with their edge accounts."""
    from hub.stores.provision import edge_accounts, store_zones

    settings = load_settings_or_exit(config)

    async def both(db):
        return await edge_accounts(db), await store_zones(db)

    accounts, zones = run_db(config, both)
    if not accounts:
        typer.echo("no edge accounts yet: seat-hub store add STORE_ID --name NAME")
    for a in accounts:
        rotated = datetime.fromtimestamp(a.rotated_at, UTC).strftime("%Y-%m-%d %H:%M")
        zone = zones.get(a.store_id) or f"{settings.timezone} (hub)"
        typer.echo(f"{a.store_id:<20} {a.edge_id:<12} {zone:<22} {a.username:<34} password set {rotated} UTC")


@store_app.command("bundle")
def store_bundle(
    store_id: str,
    out: Annotated[Path, typer.Option(help="folder to write edge-bundle.toml (and ca.crt) into")],
    broker_url: Annotated[str, typer.Option(help="how the EDGE reaches the broker: mqtt://HOST[:1883] or "
                                                 "mqtts://HOST[:8883] (TLS)")],
    edge: EdgeOpt = "edge1",
    ca: Annotated[Path | None, typer.Option(help="CA certificate of the broker (private CA, with mqtts)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Issue a NEW password for the edge and write its provisioning bundle. The old password
    stops working once `seat-hub broker-acl` has written the broker's files again."""
    from hub.auth.users import AuthError
    from hub.stores.provision import BrokerUrl, bundle_toml, rotate_edge_password, write_private

    try:
        broker = BrokerUrl.parse(broker_url)
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if ca is not None and not ca.is_file():
        typer.echo(f"error: CA file {ca} not found", err=True)
        raise typer.Exit(2)
    if ca is not None and not broker.tls:
        typer.echo("error: --ca is for TLS: use an mqtts:// broker URL", err=True)
        raise typer.Exit(2)
    settings = load_settings_or_exit(config)
    prefix = settings.mqtt.topic_prefix

    async def rotate(db):
        from hub.stores.queries import zone_of

        account, password = await rotate_edge_password(db, store_id, edge)
        return account, password, (await zone_of(db, store_id, settings.timezone)).key

    account, password, zone = run_db(config, rotate)
    ca_name = None
    if ca is not None:
        ca_name = "ca.crt"
        write_private(out / ca_name, ca.read_bytes())
    write_private(out / "edge-bundle.toml", bundle_toml(account, password, broker, prefix,
                                                        f"/etc/seat-edge/{ca_name}" if ca_name else None, zone))
    typer.echo(f"wrote {out / 'edge-bundle.toml'}{' and ' + str(out / 'ca.crt') if ca_name else ''} "
               f"(new password for {account.username}).\n"
               f"now, so that the broker knows it: {BROKER_ACL_NEXT}")


def broker_acl(
    out: Annotated[Path, typer.Option(help="folder for seat.passwd and seat.acl (e.g. /etc/mosquitto/seat)")],
    group: Annotated[str | None, typer.Option(help="give the files to this group (mode 0640) so the broker "
                                                   "can read them; default: mosquitto, when it exists")] = None,
    config: ConfigOpt = None,
) -> None:
    """Write Mosquitto's password and ACL files from the hub's edge accounts and its own account
    (mqtt.username / mqtt.password in hub.toml). Use with packaging/mosquitto-seat.conf; reload
    Mosquitto afterwards (systemctl reload mosquitto, or SIGHUP)."""
    from hub.auth.users import AuthError
    from hub.stores.provision import acl_text, check_hub_account, edge_accounts, passwd_text, write_private
    from protocol import TopicSpace

    settings = load_settings_or_exit(config)
    try:
        user, password = check_hub_account(settings.mqtt.username, settings.mqtt.password)
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    import grp

    if group is None:
        try:
            grp.getgrnam("mosquitto")
            group = "mosquitto"
        except KeyError:
            pass
    elif group:
        try:
            grp.getgrnam(group)
        except KeyError:
            typer.echo(f"error: no group {group!r} on this machine (the broker's group, e.g. mosquitto)", err=True)
            raise typer.Exit(2) from None
    accounts = run_db(config, edge_accounts)
    topics = TopicSpace(settings.mqtt.topic_prefix)
    try:
        write_private(out / "seat.passwd", passwd_text(accounts, user, password), group or None)
        write_private(out / "seat.acl", acl_text(accounts, user, topics), group or None)
    except PermissionError as exc:
        typer.echo(f"error: cannot write {exc.filename}: {exc.strerror} (run as root, or --group '' to skip "
                   f"the group change)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out / 'seat.passwd'} and {out / 'seat.acl'}: hub account {user}, "
               f"{len(accounts)} edge account(s). Reload Mosquitto to apply.")
