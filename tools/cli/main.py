"""The `kvarter` command: every subcommand group in one place."""

from __future__ import annotations

import importlib

import click

# Each group's module, loaded only when that group is asked for: between them
# they import the planner, SciPy, PROJ, FastAPI and aiocoap, and a technician's
# `kvarter node monitor` or a crew's `kvarter bins emptied` should not wait
# seconds for all of them.
GROUPS = {
    "gateway": "tools.cli.gateway",
    "sim": "tools.cli.sim",
    "node": "tools.cli.node",
    "bins": "tools.cli.bins",
    "routes": "tools.cli.routes",
    "lights": "tools.cli.lights",
    "streets": "tools.cli.streets",
    "demo": "tools.cli.demo",
    "users": "tools.cli.users",
    "export": "tools.cli.export",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*GROUPS, *super().list_commands(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in GROUPS:
            return super().get_command(ctx, cmd_name)
        command = getattr(importlib.import_module(GROUPS[cmd_name]), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
