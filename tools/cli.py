"""The `kvarter` command: every subcommand group in one place."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import gateway
from gateway.lights_cli import lights
from gateway.routes_cli import bins, routes
from sim.cli import sim
from tools.node_cli import node


@click.group()
@click.version_option(package_name="kvarter")
def cli() -> None:
    """Sensor-to-street software for a city district: bin and light nodes,
    their gateway, a district simulator and the technician's tools."""


cli.add_command(gateway)
cli.add_command(sim)
cli.add_command(node)
cli.add_command(bins)
cli.add_command(routes)
cli.add_command(lights)


@cli.command()
@click.option("--data", "data_dir", default="var/demo", show_default=True,
              type=click.Path(path_type=Path), help="Where the demo's SQLite file goes.")
@click.option("--bins", default=120, show_default=True, type=click.IntRange(1, 2000))
@click.option("--lights", default=16, show_default=True, type=click.IntRange(0, 500))
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0.1, 24 * 14))
def demo(data_dir: Path, bins: int, lights: int, hours: float) -> None:
    """Run a gateway and a simulated district against it, then summarise."""
    from tools.demo import run_demo

    try:
        click.echo(run_demo(data_dir, bins, lights, hours))
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
