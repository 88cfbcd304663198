"""`kvarter bins ...`: a city's litter bins into the registry, their state,
and what crews report back (emptied, unreachable)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import click

from gateway.coap.client import RegistryError, register_nodes
from gateway.waste.bin_import import (
    TYPE_PROPERTY,
    BBox,
    BinImportError,
    Properties,
    read_bins,
)
from gateway.waste.today import forecast_from
from tools.cli.options import (
    EXIT_PARTIAL,
    config_option,
    db_option,
    echo_json,
    iso_time,
    json_option,
    local_time,
    open_store,
    parse_hostport,
)
from tools.cli.progress import progress
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
@click.option("--crs", help="The file's coordinate system when it does not declare one, "
                            "e.g. EPSG:3006 (SWEREF 99 TM), EPSG:28992 (RD New), EPSG:32633 "
                            "(UTM 33N).")
@click.option("--type-property", default=TYPE_PROPERTY, show_default=True,
              help="The property that names a bin's type.")
@click.option("--address-property", metavar="NAME",
              help="The property with a bin's address [address, adress, addr:full, or "
                   "OpenStreetMap's addr:street and addr:housenumber].")
@click.option("--id-property", metavar="NAME",
              help="The property with the city's own id for a bin: node <prefix><id>, the "
                   "same however the file is ordered [feature N: <prefix>N].")
@click.option("--dry-run", is_flag=True, help="Check the file; register nothing.")
@click.option("--override", is_flag=True,
              help="Also update bins the gateway has already (logged there with your name).")
@click.option("--site", "site_file", type=click.Path(path_type=Path), metavar="FILE",
              help="Site profile with your [technician] credential; else $KVARTER_SITE, "
                   "else ./kvarter-site.toml.")
def import_(file: Path, prefix: str, gateway: str | None, types_file: Path | None,
            bbox: str | None, crs: str | None, type_property: str,
            address_property: str | None, id_property: str | None, dry_run: bool,
            override: bool, site_file: Path | None) -> None:
    """Register the bins of a GeoJSON file of Point features with a gateway,
    in WGS84 or any coordinate system the file declares (or --crs names).
    Feature N becomes node <prefix>N (or <prefix><id> with --id-property);
    each bin's type, address and the catalogue's litres and service time for
    its type go to the gateway with it, so that planning needs no --types.
    Problems are printed one per line and the bins without problems are
    registered (exit status 3 then: done in part)."""
    catalogue = load_catalogue(types_file)
    props = Properties(type_property, address_property, id_property)
    try:
        box = BBox.parse(bbox) if bbox else None
        result = read_bins(file, prefix, catalogue, box, props, crs)
    except BinImportError as e:
        raise click.ClickException(str(e)) from None
    for line in result.problems:
        click.echo(line)
    if result.crs is not None:
        click.echo(f"note: positions converted from {result.crs} to WGS84")
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
        with progress(f"registering {len(result.nodes)} bins at {gateway}"):
            created = asyncio.run(register_nodes(host, port, result.nodes,
                                                 technician=technician, override=override))
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    new = sum(created.values())
    click.echo(f"{result.features} features: {len(result.nodes)} bins registered at {gateway} "
               f"({new} new, {len(created) - new} updated), {result.skipped} skipped, "
               f"{len(result.problems)} problem(s)")
    if result.problems:
        click.echo(f"Error: {len(result.problems)} feature(s) of {file} not registered: fix "
                   "them (see above) and import again", err=True)
        raise SystemExit(EXIT_PARTIAL)


@bins.command("status")
@config_option
@db_option
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
@json_option
def status(config: Path | None, db_path: Path | None, limit: int, as_json: bool) -> None:
    """Each bin's last level and when the forecast expects it full, soonest first."""
    with open_store(config, db_path) as store:
        nodes = [n for n in store.nodes() if n.role == "bin"]
        with progress("forecasting each bin"):
            forecaster = forecast_from(store)
        path = store.path
    if not nodes and not as_json:
        raise click.ClickException(f"no bins registered in {path}")
    rows = []
    for n in nodes:
        m = forecaster.bins.get(n.node_id)
        full = forecaster.crossing_time(n.node_id, 100.0)
        rows.append((full if full is not None else float("inf"), n.node_id,
                     m.last_level if m else None, m.last_t if m else None))
    rows.sort(key=lambda r: (r[3] is None, r[0], r[1]))  # bins never heard from last
    if as_json:
        echo_json([{"node_id": node_id, "level_pct": level, "reported_at": iso_time(last),
                    "full_at": None if last is None or full == float("inf") else iso_time(full),
                    "forecast": ("unknown" if last is None else "not within 2 weeks"
                                 if full == float("inf") else "full")}
                   for full, node_id, level, last in rows[:limit]])
        return
    click.echo(f"{'bin':<10} {'level':>6} {'reported':<20} {'full at (forecast)':<20}")
    for full, node_id, level, last in rows[:limit]:
        level_text = "-" if level is None else f"{level:.0f}%"
        if last is None:
            full_text = "unknown"
        elif full == float("inf"):
            full_text = "not within 2 weeks"
        else:
            full_text = local_time(full)
        click.echo(f"{node_id:<10} {level_text:>6} {local_time(last):<20} {full_text:<20}")
    if len(rows) > limit:
        click.echo(f"... and {len(rows) - limit} more (--limit)")


@bins.command("emptied")
@config_option
@db_option
@click.argument("node_ids", nargs=-1, required=True, metavar="NODE_ID...")
@click.option("--at", help="When, local time: 07:15 (today) or 2026-09-21T07:15 "
                           "[now]; never in the future.")
def emptied(config: Path | None, db_path: Path | None, node_ids: tuple[str, ...],
            at: str | None) -> None:
    """Record that a crew emptied one bin or several (its sensor will say so
    too): kvarter bins emptied G0672 G0674. An id the gateway does not have
    is named and the others are recorded (exit status 3 then)."""
    _record(config, db_path, node_ids, at, "emptied", "")


@bins.command("unreachable")
@config_option
@db_option
@click.argument("node_ids", nargs=-1, required=True, metavar="NODE_ID...")
@click.option("--at", help="When, local time: 07:15 (today) or 2026-09-21T07:15 "
                           "[now]; never in the future.")
@click.option("--note", default="", help="Why: blocked by a car, road works, ... (shown on "
                                         "the next route sheet and the crew's screen)")
def unreachable(config: Path | None, db_path: Path | None, node_ids: tuple[str, ...],
                at: str | None, note: str) -> None:
    """Record that a crew could not reach a bin (or several): it stays on
    the next plan, with the note."""
    _record(config, db_path, node_ids, at, "unreachable", note)


# --- what crews report back ---------------------------------------------------------

# A time this little ahead of the clock is taken as now (a watch a minute fast).
FUTURE_SLACK_S = 120.0


def parse_at(at: str, now: float) -> float:
    """Unix time of --at: HH:MM is today, local time; a date and time without
    a zone is local time too. ClickException for anything else, or a time in
    the future."""
    text = at.strip()
    try:
        if "T" not in text and " " not in text and len(text) <= 8:
            clock = dtime.fromisoformat(text)
            when = datetime.combine(datetime.fromtimestamp(now).date(), clock)
        else:
            when = datetime.fromisoformat(text)
        stamp = when.astimezone().timestamp() if when.tzinfo is None else when.timestamp()
    except (ValueError, OverflowError, OSError):
        raise click.ClickException(f"--at {at!r}: give a time like 07:15 (today) or "
                                   "2026-09-21T07:15") from None
    if stamp > now + FUTURE_SLACK_S:
        raise click.ClickException(f"--at {at!r} is {local_time(stamp)}, in the future: give "
                                   "the time the crew was at the bin")
    return stamp


def _record(config: Path | None, db_path: Path | None, node_ids: tuple[str, ...],
            at: str | None, outcome: str, note: str) -> None:
    now = time.time()
    when = parse_at(at, now) if at else now
    with open_store(config, db_path) as store:
        known = {n.node_id for n in store.nodes() if n.role == "bin"}
        unknown = [n for n in dict.fromkeys(node_ids) if n not in known]
        for node_id in unknown:
            click.echo(f"Error: no bin {node_id!r} in {store.path}: check the id on the route "
                       "sheet; not recorded", err=True)
        # Each once, however often the command names it.
        for node_id in dict.fromkeys(n for n in node_ids if n in known):
            store.record_visit(node_id, when, outcome, note)
            click.echo(f"{node_id}: {outcome} at {local_time(when)}")
    if unknown:
        raise SystemExit(EXIT_PARTIAL if len(unknown) < len(set(node_ids)) else 1)
