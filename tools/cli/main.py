"""The `kvarter` command: every subcommand group in one place."""

from __future__ import annotations

import click

from tools.cli.bins import bins
from tools.cli.demo import demo
from tools.cli.gateway import gateway
from tools.cli.lights import lights
from tools.cli.node import node
from tools.cli.routes import routes
from tools.cli.sim import sim
from tools.cli.users import users


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
cli.add_command(demo)
cli.add_command(users)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
