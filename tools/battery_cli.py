"""`kvarter node battery`: how long a bin node's battery lasts with its config."""

from __future__ import annotations

from pathlib import Path

import click

from firmware import settings as config
from tools.battery import format_table


@click.command("battery")
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The node's config.json.")
@click.option("--capacity-ah", default=19.0, show_default=True,
              type=click.FloatRange(0.1, 1000), help="Cell capacity, Ah.")
def battery(config_path: Path, capacity_ah: float) -> None:
    """Estimate a bin node's battery life from its config (firmware/energy.py)."""
    try:
        cfg = config.parse(config_path.read_text())
    except config.ConfigError as e:
        raise click.ClickException(f"{config_path}: {e}") from None
    if cfg.role != "bin":
        raise click.ClickException(
            f"{config_path}: {cfg.node_id} is a {cfg.role} node; the battery model is "
            "for bin nodes (light nodes run on the pole's mains)")
    click.echo(format_table(cfg, capacity_ah))
