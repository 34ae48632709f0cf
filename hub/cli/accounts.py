"""``seat-hub user ...``: dashboard accounts (admin, hq_viewer, staff of given stores)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

user_app = typer.Typer(
    help="Dashboard and API accounts. Roles: admin (all stores, users, configs, snapshots), "
    "hq_viewer (all stores, read only), staff (read only, only the stores given with --store).\n\n"
    "Example: seat-hub user add kim --role staff --store oryudong --config hub.toml",
    no_args_is_help=True,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="hub.toml; omitted: embedded defaults")]
StoresOpt = Annotated[list[str] | None, typer.Option("--store", "-s", help="store id (staff only; repeat for more)")]


def run_db(config: Path | None, fn: Callable[..., Awaitable[T]]) -> T:
    """Run ``fn(session)`` against the configured (migrated) database and commit."""
    from hub.auth.users import AuthError
    from hub.cli.main import _migrate, _settings
    from hub.db.session import make_engine, make_sessionmaker

    settings = _settings(config)
    _migrate(settings.database.url)

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


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="login name: lowercase letters, digits, '.', '-', '_'")],
    role: Annotated[str, typer.Option(help="admin, hq_viewer or staff")] = "staff",
    store: StoresOpt = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin (scripts)")] = False,
    config: ConfigOpt = None,
) -> None:
    """Create an account; asks for the password twice (at least 10 characters)."""
    from hub.auth.users import add_user

    password = _read_password(password_stdin)
    run_db(config, lambda db: add_user(db, username, password, role, store or []))
    typer.echo(f"user {username} added ({role}{': ' + ', '.join(store) if store else ''})")


@user_app.command("list")
def user_list(config: ConfigOpt = None) -> None:
    """All accounts with role, stores and whether they are disabled."""
    from hub.auth.users import list_users

    users = run_db(config, list_users)
    if not users:
        typer.echo("no users yet: add one with `seat-hub user add NAME --role admin`")
        return
    typer.echo(f"{'username':<24} {'role':<10} {'state':<9} {'created (UTC)':<17} stores")
    for u in users:
        created = datetime.fromtimestamp(u.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{u.username:<24} {u.role:<10} {'disabled' if u.disabled else 'active':<9} {created:<17} "
                   f"{', '.join(u.store_ids) if u.store_ids else ('all' if u.role != 'staff' else '-')}")


@user_app.command("set-role")
def user_set_role(
    username: str,
    role: Annotated[str, typer.Argument(help="admin, hq_viewer or staff")],
    store: StoresOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Change an account's role and stores (replaces the store list); its sessions end."""
    from hub.auth.users import set_role

    run_db(config, lambda db: set_role(db, username, role, store or []))
    typer.echo(f"user {username} is now {role}{': ' + ', '.join(store) if store else ''}; logged out everywhere")


@user_app.command("disable")
def user_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="enable the account again instead")] = False,
    config: ConfigOpt = None,
) -> None:
    """Block an account from logging in (and end its sessions now); --enable undoes it."""
    from hub.auth.users import set_disabled

    run_db(config, lambda db: set_disabled(db, username, not enable))
    typer.echo(f"user {username} {'enabled' if enable else 'disabled; its sessions are ended'}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin (scripts)")] = False,
    config: ConfigOpt = None,
) -> None:
    """Set a new password; the account's sessions end."""
    from hub.auth.users import set_password

    password = _read_password(password_stdin)
    run_db(config, lambda db: set_password(db, username, password))
    typer.echo(f"password of {username} changed; logged out everywhere")


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
    config: ConfigOpt = None,
) -> None:
    """Register a store (or rename it) and create its edge's MQTT account."""
    from hub.stores.provision import add_store

    account = run_db(config, lambda db: add_store(db, store_id, name, edge))
    typer.echo(f"store {store_id} registered; edge account {account.username}.\n"
               f"next: seat-hub store bundle {store_id} --edge {edge} --broker-url mqtt(s)://HOST --out DIR, "
               f"then {BROKER_ACL_NEXT}")


@store_app.command("list")
def store_list(config: ConfigOpt = None) -> None:
    """Stores with their edge accounts."""
    from hub.stores.provision import edge_accounts

    accounts = run_db(config, edge_accounts)
    if not accounts:
        typer.echo("no edge accounts yet: seat-hub store add STORE_ID --name NAME")
    for a in accounts:
        rotated = datetime.fromtimestamp(a.rotated_at, UTC).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{a.store_id:<20} {a.edge_id:<12} {a.username:<34} password set {rotated} UTC")


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
    from hub.cli.main import _settings
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
    prefix = _settings(config).mqtt.topic_prefix
    account, password = run_db(config, lambda db: rotate_edge_password(db, store_id, edge))
    ca_name = None
    if ca is not None:
        ca_name = "ca.crt"
        write_private(out / ca_name, ca.read_bytes())
    write_private(out / "edge-bundle.toml", bundle_toml(account, password, broker, prefix,
                                                        f"/etc/seat-edge/{ca_name}" if ca_name else None))
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
    from hub.cli.main import _settings
    from hub.stores.provision import acl_text, check_hub_account, edge_accounts, passwd_text, write_private
    from protocol import TopicSpace

    settings = _settings(config)
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
