"""A night of the lighting scene: the light node firmware on every pole, the
gateway's light wave deciding, judged on dark arrivals and energy."""

from __future__ import annotations

from sim.lighting import NightSimulation
from sim.night_scene import build

# 2026-11-20 17:00 UTC: 18:00 in Gävle, long after sunset.
DUSK = 1_795_194_000 - 1_795_194_000 % 86400 + 17 * 3600


def test_nobody_reaches_a_dark_pole_and_energy_is_saved() -> None:
    scene = build(seed=5, night_h=1.5)
    outcome = NightSimulation(scene, DUSK).run()
    r = outcome.result
    assert {"walker", "cyclist", "car"} <= set(r.by_mode)
    assert r.dark == []
    assert 0.2 < r.saving < 0.9
    assert outcome.presence_events > 0 and outcome.commands > 0
    # The oracle lights each pole only while someone is near it: it uses
    # less than the wave, which lights ahead and holds after, and more than
    # the lowest idle level all night.
    assert r.oracle_share is not None and r.oracle_ratio is not None
    assert 0.2 < r.oracle_share < r.energy_share and r.oracle_ratio > 1


def test_without_the_wave_cars_reach_poles_still_ramping_up() -> None:
    # The pole's own sensor alone sees a car under a second before it
    # arrives: the lamp is still ramping. The wave is what lights ahead.
    scene = build(seed=5, night_h=1.5)
    r = NightSimulation(scene, DUSK, wave=False).run().result
    cars = [d for d in r.dark if d.mode == "car"]
    assert cars and all(d.level < 100 for d in cars)
    assert not [d for d in r.dark if d.mode == "walker"]
