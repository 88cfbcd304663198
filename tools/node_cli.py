"""`kvarter node ...`: the field technician's commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from gateway.cli import parse_hostport
from gateway.registry import Node, RegistrationError
from gateway.registry_client import RegistryError, register_nodes
from tools.battery_cli import battery
from tools.firmware_build import compile_all


@click.group()
def node() -> None:
    """Build, register and check nodes."""


@node.command()
@click.argument("node_id")
@click.option("--role", type=click.Choice(["bin", "light"]), required=True)
@click.option("--lat", type=float, required=True, help="Latitude, degrees.")
@click.option("--lon", type=float, required=True, help="Longitude, degrees.")
@click.option("--kind", default="", help="Bin type or light zone.")
@click.option("--gateway", default="127.0.0.1:5683", show_default=True, help="HOST:PORT")
def register(node_id: str, role: str, lat: float, lon: float, kind: str, gateway: str) -> None:
    """Tell the gateway about a node so that its reports are accepted."""
    try:
        n = Node.from_dict({"node_id": node_id, "role": role, "lat": lat, "lon": lon,
                            "kind": kind})
    except RegistrationError as e:
        raise click.ClickException(str(e)) from None
    host, port = parse_hostport(gateway)
    try:
        created = asyncio.run(register_nodes(host, port, [n]))[node_id]
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{node_id}: {'registered' if created else 'updated'} at {gateway}")


@node.command("build")
@click.option("--out", "out_dir", default="build/firmware", show_default=True,
              type=click.Path(path_type=Path))
def build_firmware(out_dir: Path) -> None:
    """Compile the firmware to .mpy files for the ESP32 with mpy-cross."""
    try:
        outputs = compile_all(out_dir)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{len(outputs)} files compiled into {out_dir}")


node.add_command(battery)
