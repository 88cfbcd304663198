"""Norrmalm's real streets (data/norrmalm, an OpenStreetMap extract): read as
exported, driven on the roads only and one way where tagged, every waste
basket given a place a crew can find."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway.lighting.streets import build_network
from gateway.records import Node
from gateway.streets.network import DistrictStreets, build
from gateway.waste.daily import with_places
from gateway.waste.routing import RoutePlan, Stop, Truck, TruckRoute, Unserved

DATA = Path(__file__).resolve().parents[3] / "data" / "norrmalm"


@pytest.fixture(scope="module")
def norrmalm() -> DistrictStreets:
    return build((DATA / "streets.geojson").read_text())


@pytest.fixture(scope="module")
def baskets() -> list[tuple[float, float]]:
    doc = json.loads((DATA / "waste-baskets.geojson").read_text())
    return [(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
            for f in doc["features"]]


def test_the_export_is_read_as_it_is(norrmalm: DistrictStreets) -> None:
    assert len(norrmalm.file.streets) == 856 and norrmalm.file.problems == []
    kinds = {st.tags.get("highway") for st in norrmalm.driving.streets}
    assert kinds.isdisjoint({"footway", "pedestrian", "steps", "cycleway", "path", "platform"})
    assert "residential" in kinds and "tertiary" in kinds
    assert norrmalm.driving.one_way > 100  # the district's many one-way streets


def test_the_baskets_are_driven_to_along_one_way_streets(
        norrmalm: DistrictStreets, baskets: list[tuple[float, float]]) -> None:
    d, snapped = norrmalm.driving.distances(baskets)
    on = snapped.piece >= 0
    assert on.sum() == 29  # one basket, in a park, is further than 150 m from any road
    inner = d[np.ix_(on, on)]
    assert np.isfinite(inner).all()
    assert (inner[:, None, :] <= inner[:, :, None] + inner[None, :, :] + 1e-6).all()
    assert (np.abs(inner - inner.T) > 100).any()  # there and back differ: one-way streets


def test_a_one_way_street_is_driven_its_way(norrmalm: DistrictStreets) -> None:
    g = norrmalm.driving
    one_way = next(pc for pc, ok in zip(g.pieces, g.usable, strict=True)
                   if ok and pc.forward and not pc.backward and pc.length > 80)
    st = g.streets[one_way.street]
    a, b = st.points[one_way.k0], st.points[one_way.k0 + 1]

    def along(f: float) -> tuple[float, float]:
        x, y = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
        lat0, lon0 = g.origin
        return (lat0 + y / 111_320.0, lon0 + x / (111_320.0 * np.cos(np.radians(lat0))))

    d, snapped = g.distances([along(0.2), along(0.8)])
    assert (snapped.piece >= 0).all()
    gap = 0.6 * np.hypot(b[0] - a[0], b[1] - a[1])
    assert abs(d[0, 1] - gap) < 1.0  # straight on
    assert d[1, 0] > d[0, 1] + 50  # the way round


def test_every_basket_has_a_place(norrmalm: DistrictStreets,
                                  baskets: list[tuple[float, float]]) -> None:
    places = [norrmalm.places.place(lat, lon) for lat, lon in baskets]
    assert all(places), places
    assert places[26] == "Sveavägen, at Kammakargatan"
    assert places[28] == "Holländargatan, 20 m from Kungsgatan"
    assert sum(1 for p in places if p and " m from " in p) >= 20


def test_the_lighting_side_places_poles_on_the_same_streets(
        norrmalm: DistrictStreets, baskets: list[tuple[float, float]]) -> None:
    poles = [Node(f"L{i:03d}", "light", lat, lon) for i, (lat, lon) in enumerate(baskets[20:28])]
    network = build_network(norrmalm.file, poles)
    assert len(network.placements) >= 6
    assert network.streets is norrmalm.file.streets


def test_a_bins_own_address_wins_over_the_street_place(
        norrmalm: DistrictStreets, baskets: list[tuple[float, float]]) -> None:
    (lat1, lon1), (lat2, lon2) = baskets[26], baskets[28]
    stops = (Stop("A", lat1, lon1, 10, address="Sveavägen 62"), Stop("B", lat2, lon2, 10))
    plan = RoutePlan((59.34, 18.07), [TruckRoute(Truck("truck-1", 100, 3600), stops, 0, 0, 0,
                                                 20)],
                     [Unserved(Stop("C", lat1, lon1, 10), "no room")])
    placed = with_places(plan, norrmalm.places)
    assert [s.address for s in placed.routes[0].stops] == [
        "Sveavägen 62", "Holländargatan, 20 m from Kungsgatan"]
    assert placed.unserved[0].stop.address == "Sveavägen, at Kammakargatan"
