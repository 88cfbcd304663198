"""Options and checks that several command groups share: the gateway's
config and database, a HOST:PORT address, and the one-line error every bad
input gets instead of a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from gateway.coap.client import parse_hostport as parse_address
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.storage.migrations import SchemaError
from gateway.storage.store import Store

config_option = click.option("--config", "config", type=click.Path(path_type=Path),
                             help="TOML file with a [gateway] table.")
db_option = click.option("--db", "db_path", type=click.Path(path_type=Path),
                         help="SQLite file (default var/gateway.sqlite).")


def fail(message: str) -> click.ClickException:
    """The one-line error: what was wrong and what to do. Raise it."""
    return click.ClickException(message)


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


def open_store(config: Path | None, db_path: Path | None) -> Store:
    """The gateway's database, which must exist already. Use it in a with
    block, so that it is closed whatever happens."""
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise fail(
            f"no gateway data at {cfg.db_path}: run 'kvarter gateway run' or 'make demo' first")
    try:
        return Store(cfg.db_path)
    except SchemaError as e:
        raise fail(f"{cfg.db_path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise fail(f"{cfg.db_path} is not a gateway database ({e}); give another --db") from None
