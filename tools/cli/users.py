"""`kvarter users ...`: people's accounts for the gateway's HTTP API, kept in
the gateway's database (the gateway may be running meanwhile)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.accounts import (
    ROLE_TITLES,
    ROLES,
    AccountError,
    check_password,
    check_role,
    check_username,
    hash_password,
)
from gateway.storage.store import Store
from gateway.storage.users import UserExists
from tools.cli.options import (
    config_option,
    db_option,
    echo_json,
    fail,
    iso_time,
    json_option,
    open_store,
    utc_time,
)


@click.group(help="Accounts for the gateway's HTTP API and web app. Roles: " + "; ".join(
    f"{r}, {t.split(':')[0]}" for r, t in ROLE_TITLES.items()) + ".")
def users() -> None:
    pass


def _read_password(from_stdin: bool) -> str:
    """From standard input's first line (for scripts), or asked for twice
    without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise fail("--password-stdin: standard input is empty; pipe the password in")
        password = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise fail("no terminal to ask the password on; give --password-stdin and pipe it")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    try:
        return check_password(password)
    except AccountError as e:
        raise fail(str(e)) from None


def _store_for_add(config: Path | None, db_path: Path | None) -> Store:
    # The first admin is made before the gateway has ever run: the
    # database may be made here.
    return open_store(config, db_path, may_create=True)


@users.command()
@config_option
@db_option
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="What the account may do (docs/security.md, 'Accounts and roles').")
@click.option("--crew", help="A crew account's crew (the truck whose routes it sees).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add(config: Path | None, db_path: Path | None, username: str, role: str,
        crew: str | None, password_stdin: bool) -> None:
    """Add an account; the password is asked for (twice, not shown)."""
    try:
        name = check_username(username)
        role, crew = check_role(role, crew)
    except AccountError as e:
        raise fail(str(e)) from None
    with _store_for_add(config, db_path) as store:
        if store.user(name) is not None:
            raise fail(f"user {name!r} exists already; choose another name, or "
                       f"'kvarter users passwd {name}'")
        password = _read_password(password_stdin)
        try:
            store.add_user(name, role, crew, hash_password(password))
        except UserExists as e:
            raise fail(f"{e}; choose another name") from None
    click.echo(f"added {role} {name!r}" + (f" of crew {crew!r}" if crew else ""))


@users.command(name="list")
@config_option
@db_option
@json_option
def list_users(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """The accounts, by name."""
    with open_store(config, db_path) as store:
        rows, _ = store.users()
    if as_json:
        echo_json([{"username": u.username, "role": u.role, "crew": u.crew,
                                "disabled": u.disabled, "created_at": iso_time(u.created_at)}
                   for u in rows])
        return
    if not rows:
        raise fail("no accounts yet; add the first with "
                   "'kvarter users add NAME --role admin'")
    click.echo(f"{'user':<20} {'role':<11} {'crew':<12} {'state':<9} created")
    for u in rows:
        when = utc_time(u.created_at)
        click.echo(f"{u.username:<20} {u.role:<11} {u.crew or '-':<12} "
                   f"{'disabled' if u.disabled else 'enabled':<9} {when}")


def _set_disabled(config: Path | None, db_path: Path | None, username: str,
                  disabled: bool) -> None:
    with open_store(config, db_path) as store:
        row = store.user(username)
        if row is None:
            raise fail(f"no user {username!r}; 'kvarter users list' shows them")
        if row.disabled == disabled:
            raise fail(f"{row.username!r} is {'disabled' if disabled else 'enabled'} already")
        if disabled and row.role == "admin" and store.count_admins() <= 1:
            raise fail(f"{row.username!r} is the last enabled admin; add another first")
        store.set_disabled(row.username, disabled)
    click.echo(f"{'disabled' if disabled else 'enabled'} {row.username!r}"
               + ("; its sessions and tokens have ended" if disabled else ""))


@users.command()
@config_option
@db_option
@click.argument("username")
def disable(config: Path | None, db_path: Path | None, username: str) -> None:
    """Disable an account: its sessions and tokens end at once."""
    _set_disabled(config, db_path, username, True)


@users.command()
@config_option
@db_option
@click.argument("username")
def enable(config: Path | None, db_path: Path | None, username: str) -> None:
    """Enable a disabled account again (it makes new tokens)."""
    _set_disabled(config, db_path, username, False)


@users.command()
@config_option
@db_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def passwd(config: Path | None, db_path: Path | None, username: str,
           password_stdin: bool) -> None:
    """Set a new password; the account's browser sessions end."""
    with open_store(config, db_path) as store:
        if store.user(username) is None:
            raise fail(f"no user {username!r}; 'kvarter users list' shows them")
        password = _read_password(password_stdin)
        store.set_password_hash(username, hash_password(password))
    click.echo(f"new password set for {username!r}; its sessions have ended")
