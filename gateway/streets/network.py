"""The district's streets as the services use them, built once per imported
file: the file read, the driving graph, the places."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gateway.streets.driving import DrivingStreets
from gateway.streets.geometry import StreetFile, StreetsError, read_streets
from gateway.streets.places import Places


@dataclass(frozen=True)
class DistrictStreets:
    file: StreetFile
    driving: DrivingStreets
    places: Places


def build(geojson: str) -> DistrictStreets:
    """StreetsError for a file with no usable street."""
    sf = read_streets(geojson)
    return DistrictStreets(sf, DrivingStreets(sf), Places(sf))


@lru_cache(maxsize=2)
def _cached(geojson: str) -> DistrictStreets | None:
    try:
        return build(geojson)
    except StreetsError:
        return None


def district_streets(stored: tuple[int, str, str] | None) -> DistrictStreets | None:
    """The streets of Store.streets()'s answer, or None when none are
    imported or they cannot be read. Planning twice on the same streets
    builds them once."""
    return None if stored is None else _cached(stored[1])
