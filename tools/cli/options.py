"""Options and checks that several command groups share: the gateway's
config and database, a HOST:PORT address, --json, the one-line error every
bad input gets instead of a traceback, and how times are printed.

Which database a command reads (docs/operators.md, "Which database"):
--db, else $KVARTER_DB, else the db_path of --config, else the gateway's
default var/gateway.sqlite if it exists, else the demo's var/demo/gateway.sqlite
if it exists, with the demo's settings beside it (var/demo/gateway.toml: its
district's name). A database found by the last two is named in one line on
standard error; finding none is a one-line error saying how to choose one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gateway.coap.client import parse_hostport as parse_address
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.storage.migrations import SchemaError
from gateway.storage.store import Store

DB_ENV = "KVARTER_DB"
GATEWAY_DB = Path("var/gateway.sqlite")  # `kvarter gateway run`'s default
DEMO_DB = Path("var/demo/gateway.sqlite")  # where `make demo` keeps its gateway's data
DEMO_CONFIG = DEMO_DB.with_name("gateway.toml")  # and its gateway's settings

config_option = click.option("--config", "config", type=click.Path(path_type=Path),
                             help="TOML file with a [gateway] table.")
db_option = click.option(
    "--db", "db_path", type=click.Path(path_type=Path), envvar=DB_ENV, metavar="FILE",
    help=f"The gateway's SQLite file; else ${DB_ENV}, else --config's db_path, else "
         f"{GATEWAY_DB} or the demo's {DEMO_DB}, whichever exists (in that order).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table, for scripts.")

# Exit statuses beyond click's 1 (error) and 2 (bad usage): an action that
# was done for some of its parts only (docs/operators.md, "Exit status").
EXIT_PARTIAL = 3


def fail(message: str) -> click.ClickException:
    """The one-line error: what was wrong and what to do. Raise it."""
    return click.ClickException(message)


def note(message: str) -> None:
    """A line for the person at the terminal, on standard error, so that
    standard output (tables, --json) stays what a script reads."""
    click.echo(f"kvarter: {message}", err=True)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=None, ensure_ascii=False))


def parse_hostport(value: str) -> tuple[str, int]:
    """A gateway's CoAP address given as HOST:PORT ([v6]:PORT for IPv6)."""
    try:
        return parse_address(value)
    except ValueError as e:
        raise fail(str(e)) from None


def load_config(config: Path | None, **overrides: object) -> GatewayConfig:
    try:
        return GatewayConfig.load(config, **overrides)
    except GatewayConfigError as e:
        raise fail(str(e)) from None


def gateway_config(config: Path | None, db_path: Path | None, *,
                   may_create: bool = False) -> GatewayConfig:
    """The gateway's settings with the database chosen as the module's
    docstring says. may_create: a command that may make the database (the
    first account, the first technician) makes var/gateway.sqlite when no
    database is found."""
    cfg = load_config(config, db_path=db_path)
    if db_path is not None or config is not None:
        return cfg
    for path, whose in ((GATEWAY_DB, "the gateway's default"), (DEMO_DB, "the demo's")):
        if path.exists():
            note(f"using {whose} database {path} (--db FILE or {DB_ENV}=FILE chooses another)")
            if path == DEMO_DB and DEMO_CONFIG.exists():
                return load_config(DEMO_CONFIG, db_path=path)
            return replace(cfg, db_path=path)
    if may_create:
        note(f"making a new gateway database {GATEWAY_DB} (--db FILE or {DB_ENV}=FILE "
             "chooses another)")
        return cfg
    raise fail(f"no gateway database here ({GATEWAY_DB} or the demo's {DEMO_DB}): give "
               f"--db FILE or set {DB_ENV}=FILE, or run 'make demo' first")


def open_store(config: Path | None, db_path: Path | None, *,
               may_create: bool = False) -> Store:
    """The gateway's database. Without may_create it must exist already. Use
    it in a with block, so that it is closed whatever happens."""
    cfg = gateway_config(config, db_path, may_create=may_create)
    if not may_create and not cfg.db_path.exists():
        raise fail(
            f"no gateway data at {cfg.db_path}: run 'kvarter gateway run' or 'make demo' first, "
            f"or give another --db")
    try:
        return Store(cfg.db_path)
    except SchemaError as e:
        raise fail(f"{cfg.db_path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise fail(f"{cfg.db_path} is not a gateway database ({e}); give another --db") from None
    except OSError as e:
        raise fail(f"cannot open {cfg.db_path}: {e.strerror or e}; give another --db") from None


# --- times ------------------------------------------------------------------------------
# Every time printed carries its zone: tables in the gateway's local time with
# the zone's abbreviation (what crews and operators keep), JSON in ISO 8601
# with the offset.

def local_time(t: float | None, seconds: bool = False, never: str = "never") -> str:
    if t is None:
        return never
    when = datetime.fromtimestamp(t).astimezone()
    return when.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def utc_time(t: float | None, seconds: bool = False, never: str = "never") -> str:
    if t is None:
        return never
    return datetime.fromtimestamp(t, UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def iso_time(t: float | None) -> str | None:
    """For --json: ISO 8601 with the UTC offset, or null."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat()
