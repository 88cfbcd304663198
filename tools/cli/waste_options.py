"""Options the bins and routes groups share: the bin-type catalogue, a depot."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from gateway.records import KindSpec
from gateway.waste.bin_types import Catalogue, CatalogueError

types_option = click.option(
    "--types", "types_file", type=click.Path(path_type=Path),
    help="TOML file that overrides or extends the bin types (volumes, service times).")


def load_catalogue(path: Path | None,
                   stored: Mapping[str, KindSpec] | None = None) -> Catalogue:
    """The built-in bin types, the kinds a gateway stored at import, then
    the file's."""
    try:
        return Catalogue.load(path, stored)
    except CatalogueError as e:
        raise click.ClickException(str(e)) from None


def parse_latlon(value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in value.split(","))
    except ValueError:
        raise click.ClickException(
            f"--depot {value!r} is not LAT,LON in degrees, e.g. 60.6749,17.1413") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.ClickException(f"--depot {value!r}: latitude must be -90..90 and longitude "
                                   "-180..180 (is it LON,LAT? give LAT,LON)")
    return lat, lon
