"""``seat-hub user ...``: dashboard accounts (admin, hq_viewer, staff of given stores)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from hub.cli.common import ConfigOpt, run_db

user_app = typer.Typer(
    help="Dashboard and API accounts. Roles: admin (all stores, users, configs, snapshots), "
    "hq_viewer (all stores, read only), staff (read only, only the stores given with --store).\n\n"
    "Example: seat-hub user add kim --role staff --store oryudong --config hub.toml",
    no_args_is_help=True,
)

StoresOpt = Annotated[list[str] | None, typer.Option("--store", "-s", help="store id (staff only; repeat for more)")]


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
