"""`kvarter demo`: a gateway serving a simulated district, Norrmalm in
Stockholm with its real streets and places (OpenStreetMap), with an account
of every role on its web app; live until Ctrl-C, or once with --once."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import click

from tools.cli.progress import progress


@click.command()
@click.option("--data", "data_dir", default="var/demo", show_default=True,
              type=click.Path(path_type=Path),
              help="Where the demo's SQLite file and accounts go (made anew each run).")
@click.option("--bins", default=120, show_default=True, type=click.IntRange(1, 1036),
              help="Bins at Norrmalm's 30 mapped waste baskets, then at street addresses.")
@click.option("--lights", default=16, show_default=True, type=click.IntRange(0, 500),
              help="Light poles along Norrmalm's named roads.")
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0.1, 24 * 14),
              help="Hours just past simulated in accelerated time first.")
@click.option("--once", is_flag=True,
              help="Stop after the accelerated hours and print a summary (for scripts and CI).")
@click.option("--http-port", type=click.IntRange(1, 65535),
              help="Port of the web app and HTTP API [8080 if free, else any free one].")
def demo(data_dir: Path, bins: int, lights: int, hours: float, once: bool,
         http_port: int | None) -> None:
    """Run a gateway and a simulated district against it, Norrmalm in
    Stockholm (OpenStreetMap data, ODbL): the last hours in
    accelerated time, then live in real time (for up to two weeks), with the
    web app's address and an account of every role printed, until Ctrl-C.
    With --once: the accelerated hours only, then a summary."""
    from sim.demo import Interrupted, run_live, run_once
    from sim.norrmalm import NorrmalmError

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    # SIGTERM (a service manager, `kill`) ends the demo as Ctrl-C does.
    signal.signal(signal.SIGTERM, on_term)
    try:
        with progress("kvarter demo") as shown:
            if once:
                code = run_once(data_dir, bins, lights, hours, shown.echo, shown.update)
            else:
                code = run_live(data_dir, bins, lights, hours, http_port, shown.echo, shown.update,
                                lambda: False)
    except (KeyboardInterrupt, Interrupted):
        code = 0  # interrupted before the live part: the children are stopped already
    except (RuntimeError, NorrmalmError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        # A second Ctrl-C while the gateway is being stopped must not cut
        # the stop short with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not once:
        click.echo(f"demo stopped; its data stays in {data_dir} ('kvarter gateway run --config "
                   f"{data_dir / 'gateway.toml'}' serves it again)")
    sys.exit(code)
