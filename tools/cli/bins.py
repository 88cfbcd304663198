"""`kvarter bins ...`: a city's litter bins into the registry, their state,
and what crews report back (emptied, unreachable)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import click

from gateway.coap.client import RegistryError, register_nodes
from gateway.storage.store import Store
from gateway.waste.bin_import import BBox, BinImportError, read_bins
from gateway.waste.today import forecast_from
from tools.cli.options import config_option, db_option, load_config, parse_hostport
from tools.cli.waste_options import load_catalogue, types_option

# --- the registry ------------------------------------------------------------------------

@click.group()
def bins() -> None:
    """Bring a city's litter bins into the registry."""


@bins.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prefix", required=True, help="Start of the node ids: G gives G0001, G0002, ...")
@click.option("--gateway", help="HOST:PORT [site profile's, else 127.0.0.1:5683]")
@types_option
@click.option("--bbox", help="minlon,minlat,maxlon,maxlat: bins outside are skipped.")
@click.option("--dry-run", is_flag=True, help="Check the file; register nothing.")
@click.option("--override", is_flag=True,
              help="Also update bins the gateway has already (logged there with your name).")
@click.option("--site", "site_file", type=click.Path(path_type=Path), metavar="FILE",
              help="Site profile with your [technician] credential; else $KVARTER_SITE, "
                   "else ./kvarter-site.toml.")
def import_(file: Path, prefix: str, gateway: str | None, types_file: Path | None,
            bbox: str | None, dry_run: bool, override: bool, site_file: Path | None) -> None:
    """Register the bins of a GeoJSON file of Point features (WGS84) with a
    gateway. Feature N becomes node <prefix>N; problems are printed one per
    line and the bins without problems are registered."""
    catalogue = load_catalogue(types_file)
    try:
        box = BBox.parse(bbox) if bbox else None
        result = read_bins(file, prefix, catalogue, box)
    except BinImportError as e:
        raise click.ClickException(str(e)) from None
    for line in result.problems:
        click.echo(line)
    for line in result.notices:
        click.echo(f"note: {line}")
    if not result.nodes:
        raise click.ClickException(f"no bins to register from {file}: see the problems above")
    if dry_run:
        click.echo(f"{result.features} features: {len(result.nodes)} bins would be registered, "
                   f"{result.skipped} skipped, {len(result.problems)} problem(s)")
        return
    from tools.field.errors import FieldError
    from tools.field.site import find_site, need_technician

    try:
        site = find_site(site_file)
        gateway = gateway or site.gateway or "127.0.0.1:5683"
        host, port = parse_hostport(gateway)
        technician = need_technician(site)
    except FieldError as e:
        raise click.ClickException(str(e)) from None
    try:
        created = asyncio.run(register_nodes(host, port, result.nodes, technician=technician,
                                             override=override))
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    new = sum(created.values())
    click.echo(f"{result.features} features: {len(result.nodes)} bins registered at {gateway} "
               f"({new} new, {len(created) - new} updated), {result.skipped} skipped, "
               f"{len(result.problems)} problem(s)")


@bins.command("status")
@config_option
@db_option
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
def status(config: Path | None, db_path: Path | None, limit: int) -> None:
    """Each bin's last level and when the forecast expects it full, soonest first."""
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db")
    with Store(cfg.db_path) as store:
        nodes = [n for n in store.nodes() if n.role == "bin"]
        forecaster = forecast_from(store)
    if not nodes:
        raise click.ClickException(f"no bins registered in {cfg.db_path}")
    rows = []
    for n in nodes:
        m = forecaster.bins.get(n.node_id)
        full = forecaster.crossing_time(n.node_id, 100.0)
        rows.append((full if full is not None else float("inf"), n.node_id,
                     m.last_level if m else None, m.last_t if m else None))
    rows.sort(key=lambda r: (r[3] is None, r[0], r[1]))  # bins never heard from last
    click.echo(f"{'bin':<10} {'level':>6} {'reported':<16} {'full at (forecast)':<18}")
    for full, node_id, level, last in rows[:limit]:
        level_text = "-" if level is None else f"{level:.0f}%"
        last_text = "never" if last is None else f"{datetime.fromtimestamp(last):%Y-%m-%d %H:%M}"
        if last is None:
            full_text = "unknown"
        elif full == float("inf"):
            full_text = "not within 2 weeks"
        else:
            full_text = f"{datetime.fromtimestamp(full):%Y-%m-%d %H:%M}"
        click.echo(f"{node_id:<10} {level_text:>6} {last_text:<16} {full_text:<18}")
    if len(rows) > limit:
        click.echo(f"... and {len(rows) - limit} more (--limit)")


@bins.command("emptied")
@config_option
@db_option
@click.argument("node_id")
@click.option("--at", help="When, local time (default now).")
def emptied(config: Path | None, db_path: Path | None, node_id: str, at: str | None) -> None:
    """Record that a crew emptied a bin (its sensor will say so too)."""
    _record(config, db_path, node_id, at, "emptied", "")


@bins.command("unreachable")
@config_option
@db_option
@click.argument("node_id")
@click.option("--at", help="When, local time (default now).")
@click.option("--note", default="", help="Why: blocked by a car, road works, ...")
def unreachable(config: Path | None, db_path: Path | None, node_id: str, at: str | None,
                note: str) -> None:
    """Record that a crew could not reach a bin: it stays on the next plan."""
    _record(config, db_path, node_id, at, "unreachable", note)


# --- what crews report back ---------------------------------------------------------

def _record(config: Path | None, db_path: Path | None, node_id: str, at: str | None,
            outcome: str, note: str) -> None:
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db")
    when = time.time()
    if at:
        try:
            when = datetime.fromisoformat(at).astimezone().timestamp()
        except ValueError:
            raise click.ClickException(f"--at {at!r}: give a time like 2026-09-21T09:40") \
                from None
    with Store(cfg.db_path) as store:
        if node_id not in {n.node_id for n in store.nodes() if n.role == "bin"}:
            raise click.ClickException(f"no bin {node_id!r} in {cfg.db_path}: check the id on "
                                       "the route sheet")
        store.record_visit(node_id, when, outcome, note)
    click.echo(f"{node_id}: {outcome} at {datetime.fromtimestamp(when):%Y-%m-%d %H:%M}")
