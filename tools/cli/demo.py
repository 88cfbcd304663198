"""`kvarter demo`: a gateway serving a simulated district, then a summary."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--data", "data_dir", default="var/demo", show_default=True,
              type=click.Path(path_type=Path), help="Where the demo's SQLite file goes.")
@click.option("--bins", default=120, show_default=True, type=click.IntRange(1, 2000))
@click.option("--lights", default=16, show_default=True, type=click.IntRange(0, 500))
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0.1, 24 * 14))
def demo(data_dir: Path, bins: int, lights: int, hours: float) -> None:
    """Run a gateway and a simulated district against it, then summarise."""
    from sim.demo import run_demo

    try:
        click.echo(run_demo(data_dir, bins, lights, hours))
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
