"""The policy comparison on Norrmalm's real places and streets
(data/norrmalm), small: a dozen bins over a few days. The full four weeks
are measured by `make bench ONLY=waste`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.streets.geometry import read_streets
from gateway.streets.places import Places
from gateway.waste.routing import haversine_m
from sim import norrmalm
from sim.fill_model import profiles
from sim.waste import Fleet, compare, route_days

DAYS = 4
ROOT = Path(__file__).resolve().parents[2]


def test_bins_stand_at_the_baskets_then_at_addresses_each_once() -> None:
    baskets = norrmalm.baskets()
    assert len(baskets) == 30
    district = norrmalm.build(45, 0, 1, seed=1)
    placed = [(b.lat, b.lon) for b in district.bins]
    assert placed[:30] == [(p.lat, p.lon) for p in baskets]
    assert all(b.address == "" for b in district.bins[:30])
    at_addresses = district.bins[30:]
    assert len({b.address for b in at_addresses}) == 15
    # "Tegnérgatan 23", "Sveavägen 31A"
    assert all(re.fullmatch(r"\w[\w .-]+ \d+\w*", b.address) for b in at_addresses)
    # Registered with their address: the place a crew finds them by.
    assert [n.address for n in district.nodes()[30:]] == [b.address for b in at_addresses]
    assert "15 at street addresses" in norrmalm.describe_bins(45)


def test_fill_rates_are_the_generated_districts_whatever_the_places() -> None:
    from sim.district import build

    ours, generated = norrmalm.build(20, 0, 1, seed=3), build(20, 0, 1, seed=3)
    assert [(b.kind, b.fill_rate_pct_per_h) for b in ours.bins] == \
        [(b.kind, b.fill_rate_pct_per_h) for b in generated.bins]
    assert [(b.lat, b.lon) for b in ours.bins] != [(b.lat, b.lon) for b in generated.bins]


def test_poles_stand_on_named_roads_a_spacing_apart() -> None:
    district = norrmalm.build(1, 8, 1)
    places = Places(read_streets(norrmalm.streets_text()))
    on = [places.street(p.lat, p.lon) for p in district.poles]
    assert all(found is not None and found[1] < 1.0 for found in on)
    first, second = district.poles[0], district.poles[1]
    assert haversine_m(first.lat, first.lon, second.lat, second.lon) == pytest.approx(30, abs=1)


def test_more_bins_or_poles_than_places_are_refused_in_words() -> None:
    with pytest.raises(norrmalm.NorrmalmError, match="1036 bins .* ask for fewer"):
        norrmalm.build(2000, 0, 1)
    with pytest.raises(norrmalm.NorrmalmError, match="ask for fewer lights"):
        norrmalm.pole_places(100_000)


def test_the_comparison_routes_along_the_streets() -> None:
    district = norrmalm.build(12, 0, 1, seed=1)
    fills = profiles(district.bins, DAYS, seed=1)
    positions = {b.node_id: (b.lat, b.lon) for b in district.bins}
    fleet = Fleet(norrmalm.DEPOT, trucks=1, capacity_l=20_000)
    streets = norrmalm.driving_streets()
    fixed, ours, oracle = compare(fills, DAYS, seed=1)
    assert ours.emptyings < fixed.emptyings
    for result in (fixed, ours, oracle):
        route_days(result, fills, positions, fleet, 0.2, streets=streets)
        assert result.unrouted == 0
    assert 0 < ours.truck_km < fixed.truck_km
    # Every day's round of all twelve is on the streets but for the one
    # basket beyond 150 m of every drivable street (the extract's edge).
    assert fixed.off_streets == DAYS
    # The same rounds as straight lines x 1.3 measure otherwise.
    straight = compare(fills, DAYS, seed=1)[0]
    route_days(straight, fills, positions, fleet, 0.2)
    assert straight.emptyings == fixed.emptyings and straight.off_streets == 0
    assert abs(straight.truck_km - fixed.truck_km) > 0.05 * fixed.truck_km


def test_sim_waste_compares_the_policies_in_norrmalm(tmp_path: Path) -> None:
    def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tools.cli", "sim", "waste", "--norrmalm",
                               "--out", str(tmp_path), *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)

    done = kvarter("--bins", "12", "--weeks", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Norrmalm: 12 bins at real places: 12 of the district's mapped "
                               "waste baskets, routed along its streets; map data © "
                               "OpenStreetMap contributors, ODbL 1.0")
    assert [ln.split()[0] for ln in lines[3:6]] == ["fixed", "forecast", "oracle"]
    assert (tmp_path / "policies.png").stat().st_size > 0
    refused = kvarter("--bins", "2000")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: Norrmalm has places for 1036 bins (30 waste baskets and 1006 addresses), not "
        "2000: ask for fewer bins")
