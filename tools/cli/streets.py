"""`kvarter streets ...`: the district's streets, imported once for every
service: routes for the bin crews are driven along them, light poles stand
along them, every map draws them."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.lighting.streets import build_network
from gateway.storage.store import Store
from gateway.streets.driving import SNAP_M
from gateway.streets.geometry import StreetsError
from gateway.streets.network import DistrictStreets, build
from tools.cli.options import config_option, db_option, fail, open_store
from tools.cli.progress import progress


@click.group()
def streets() -> None:
    """The district's streets: for the crews' routes, the light poles, the maps."""


@streets.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@db_option
@click.option("--dry-run", is_flag=True, help="Check the file; store nothing.")
def streets_import(file: Path, config: Path | None, db_path: Path | None, dry_run: bool) -> None:
    """Import a GeoJSON file of LineString streets (WGS84) with their names,
    such as an OpenStreetMap export as it is: its "highway" tags tell which
    streets a truck drives, its "oneway" tags which way. Replaces the streets
    imported before; problems are printed one per line."""
    with open_store(config, db_path) as store:
        try:
            data = file.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise fail(f"cannot read {file}: {e.strerror or e}") from None
        with progress(f"reading {file.name}"):
            try:
                found = build(data)
            except StreetsError as e:
                raise fail(f"{file}: {e}") from None
        for line in found.file.problems:
            click.echo(line)
        click.echo(summary(found))
        click.echo(_poles(found, store))
        if dry_run:
            click.echo("nothing stored (--dry-run)")
            return
        version = store.save_streets(data, str(file))
        click.echo(f"stored as streets {version} in the gateway's data: plans from now on "
                   "drive along them")


def summary(found: DistrictStreets) -> str:
    d = found.driving
    named = len({st.label for st in found.file.streets if st.label})
    lines = [f"{len(found.file.streets)} streets ({named} names); {len(d.streets)} drivable by "
             f"a truck, {d.one_way} of them one-way, {d.length_m / 1000:.1f} km"]
    if d.dropped_m >= 1:
        lines.append(f"{d.dropped_m / 1000:.1f} km of drivable street left out of routes: "
                     "no way there and back within the file (cut off at its edge, or one-way "
                     "away); bins there are reached from the nearest street within "
                     f"{SNAP_M:.0f} m")
    if d.turned_m >= 1:
        lines.append(f"{d.turned_m / 1000:.1f} km of one-way street leading to nothing (a "
                     "dead end, or the file's edge) taken as two-way: the truck turns there")
    return "\n".join(lines)


def _poles(found: DistrictStreets, store: Store) -> str:
    nodes = store.nodes()
    poles = sum(1 for n in nodes if n.role == "light")
    if not poles:
        return "no light poles registered yet: they are placed along the streets when they are"
    network = build_network(found.file, nodes)
    for line in network.problems[len(found.file.problems):]:
        click.echo(line)
    # Each street's poles in the order a walker meets them: what a
    # technician checks against the street before the light wave relies on it.
    order = []
    for name, poles_along in network.order():
        shown = " ".join(poles_along[:12]) + (
            f" ... ({len(poles_along)})" if len(poles_along) > 12 else "")
        order.append(f"  {name}: {shown}")
    return "\n".join([f"placed {len(network.placements)} of {poles} light poles along the "
                      "streets", *order])
