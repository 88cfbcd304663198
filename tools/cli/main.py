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
from tools.cli.streets import streets
from tools.cli.users import users


@click.group()
@click.version_option(package_name="kvarter")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress of slow work (planning, simulations, imports) on standard "
                   "error: always, or never [on a terminal, after two seconds].")
@click.pass_context
def cli(ctx: click.Context, show_progress: bool | None) -> None:
    """Sensor-to-street software for a city district: bin and light nodes,
    their gateway, a district simulator and the technician's tools.

    \b
    The gateway's database: --db FILE, else $KVARTER_DB, else --config's
    db_path, else var/gateway.sqlite or, after 'make demo', the demo's
    var/demo/gateway.sqlite (the one used is named on standard error).
    Exit status: 0 done; 1 not done (the reason in one line); 2 bad usage;
    3 done in part (what was left out is printed)."""
    ctx.ensure_object(dict)
    ctx.obj["progress"] = show_progress


cli.add_command(gateway)
cli.add_command(sim)
cli.add_command(node)
cli.add_command(bins)
cli.add_command(routes)
cli.add_command(lights)
cli.add_command(streets)
cli.add_command(demo)
cli.add_command(users)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
