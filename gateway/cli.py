"""`kvarter gateway ...`: run the gateway and look at what it stored."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from gateway.config import GatewayConfig, GatewayConfigError
from gateway.service import serve
from gateway.store import Store


def load_config(config: Path | None, **overrides: object) -> GatewayConfig:
    try:
        return GatewayConfig.load(config, **overrides)
    except GatewayConfigError as e:
        raise click.ClickException(str(e)) from None


config_option = click.option("--config", "config", type=click.Path(path_type=Path),
                             help="TOML file with a [gateway] table.")
db_option = click.option("--db", "db_path", type=click.Path(path_type=Path),
                         help="SQLite file (default var/gateway.sqlite).")


@click.group()
def gateway() -> None:
    """Run the district gateway and inspect its data."""


@gateway.command()
@config_option
@db_option
@click.option("--host", "bind_host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="UDP port for CoAP (default 5683).")
@click.option("--mqtt", "mqtt_host", help="MQTT broker host to publish reports to.")
@click.option("--mqtt-port", type=int, help="MQTT broker port (default 1883).")
@click.option("--district", help="District name, used in MQTT topics.")
def run(config: Path | None, **overrides: object) -> None:
    """Serve nodes over CoAP until Ctrl-C or SIGTERM."""
    cfg = load_config(config, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(cfg))
    except OSError as e:
        raise click.ClickException(
            f"cannot listen on {cfg.bind_host}:{cfg.port}: {e.strerror or e}; "
            "is another gateway running? choose another --port") from None


def open_store(config: Path | None, db_path: Path | None) -> Store:
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(
            f"no gateway data at {cfg.db_path}: run 'kvarter gateway run' or 'make demo' first")
    return Store(cfg.db_path)


@gateway.command()
@config_option
@db_option
def nodes(config: Path | None, db_path: Path | None) -> None:
    """List the registered nodes."""
    store = open_store(config, db_path)
    for n in store.nodes():
        click.echo(f"{n.node_id:<16} {n.role:<6} {n.lat:10.6f} {n.lon:11.6f} {n.kind}")
    store.close()


@gateway.command()
@config_option
@db_option
def summary(config: Path | None, db_path: Path | None) -> None:
    """What the gateway has stored so far."""
    store = open_store(config, db_path)
    click.echo(format_summary(store, store.path))
    store.close()


def format_summary(store: Store, path: Path) -> str:
    s = store.summary()
    over = ", ".join(f"{n} ({f:.0f}%)" for n, f in s.bins_over_threshold[:8])
    more = len(s.bins_over_threshold) - 8
    if more > 0:
        over += f" and {more} more"
    lines = [
        f"nodes registered   {s.nodes_registered} ({s.bins} bins, {s.lights} lights)",
        f"nodes seen         {s.nodes_seen}",
        f"bin reports        {s.bin_reports}",
        f"bins over threshold {len(s.bins_over_threshold)}" + (f": {over}" if over else ""),
        f"presence events    {s.presence_events} ({s.detections} detections)",
        f"data               {path}",
    ]
    return "\n".join(lines)
