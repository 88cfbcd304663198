"""What street lighting uses: recorded presence events replayed through the
light wave, and the energy of every pole from the levels that gives; the
same poles at full all night, and under an oracle that lights each pole
exactly while someone is near it.

A pole is at its zone's active level while a command or its own detection
holds it (from the detection for the zone's hold; from the command's arrival
for the command's hold), at the idle level otherwise while its zone is lit,
and off outside the zone's hours. Ramps are left out: a fraction of a second
up, some seconds down, against holds of a minute or more.

Pure logic: no CoAP, no SQLite.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Container, Iterable

from gateway.lighting.streets import Network
from gateway.lighting.wave import LightWave, Pole, WaveSettings
from gateway.lighting.zones import ZoneBook

Event = tuple[str, float, int, float | None, int]  # node, time, count, speed, flags

# Someone is near a pole within its sensor's reach (a PIR's or radar's, along
# the street), and the sensor reports them this long after they come in reach.
NEAR_M = 10.0
SENSOR_DELAY_S = 0.5
WALK_MPS = 1.4  # the pace of someone whose speed the sensor did not measure


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping (start, end) intervals joined, in order."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def replay_energy(events: Iterable[Event], network: Network, poles: dict[str, Pole],
                  zones: ZoneBook, settings: WaveSettings, start: float, end: float,
                  measured: set[str]) -> dict[str, float]:
    """Watt-hours of each pole in `measured` from start to end."""
    wave = LightWave(network, poles, zones, settings)
    active: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for node_id, t, _count, speed, flags in events:
        pole = poles.get(node_id)
        if pole is not None:
            active[node_id].append((t, t + zones.zone(pole.zone).hold_s))
        decision = wave.decide(node_id, t, speed, flags)
        if decision is None:
            continue
        for cmd in decision.commands:
            t0 = t + settings.latency_s
            for nid in cmd.node_ids:
                active[nid].append((t0, t0 + cmd.brighten.hold_s))
    return lamp_energy(poles, zones, start, end, measured, active)


def lamp_energy(poles: dict[str, Pole], zones: ZoneBook, start: float, end: float,
                measured: Iterable[str], active: dict[str, list[tuple[float, float]]]
                ) -> dict[str, float]:
    """Watt-hours of each pole in `measured` from start to end: at its zone's
    active level within its `active` intervals, at the idle level the rest
    of the time its zone is lit, off outside its zone's hours."""
    first_min, last_min = int(start // 60), int(math.ceil(end / 60))
    energy: dict[str, float] = {}
    baseline: dict[tuple[str, int, int], float] = {}
    for node_id in sorted(measured):
        pole = poles.get(node_id)
        if pole is None:
            continue
        zone = zones.zone(pole.zone)
        key = (pole.zone, int(pole.lat * 100), int(pole.lon * 50))
        if key not in baseline:
            # Idle all the time it is lit: percent-seconds.
            total = 0.0
            for m in range(first_min, last_min):
                on, idle, _ = zones.levels(pole.zone, m * 60, pole.lat, pole.lon)
                if on:
                    total += idle * (min(end, (m + 1) * 60) - max(start, m * 60))
            baseline[key] = total
        extra = 0.0
        for a, b in merge_intervals(active.get(node_id, [])):
            a, b = max(a, start), min(b, end)
            m = int(a // 60)
            while a < b:
                step_end = min(b, (m + 1) * 60)
                on, idle, act = zones.levels(pole.zone, m * 60, pole.lat, pole.lon)
                if on:
                    extra += (act - idle) * (step_end - a)
                a = step_end
                m += 1
        energy[node_id] = zone.lamp_w * (baseline[key] + extra) / 100 / 3600
    return energy


def full_energy(poles: dict[str, Pole], zones: ZoneBook, start: float, end: float,
                measured: Iterable[str]) -> dict[str, float]:
    """Watt-hours of each pole at full (its lamp's power) all the time its
    zone is lit from start to end: what the lights used before they dimmed."""
    first_min, last_min = int(start // 60), int(math.ceil(end / 60))
    lit: dict[tuple[str, int, int], float] = {}
    energy: dict[str, float] = {}
    for node_id in sorted(measured):
        pole = poles.get(node_id)
        if pole is None:
            continue
        key = (pole.zone, int(pole.lat * 100), int(pole.lon * 50))
        if key not in lit:
            lit[key] = sum(min(end, (m + 1) * 60) - max(start, m * 60)
                           for m in range(first_min, last_min)
                           if zones.levels(pole.zone, m * 60, pole.lat, pole.lon)[0])
        energy[node_id] = zones.zone(pole.zone).lamp_w * lit[key] / 3600
    return energy


def near_from_events(events: Iterable[Event], poles: Container[str],
                     near_m: float = NEAR_M, delay_s: float = SENSOR_DELAY_S
                     ) -> dict[str, list[tuple[float, float]]]:
    """When someone was near each pole, as its own presence events tell: a
    detection is sent `delay_s` after someone comes within `near_m` of the
    pole, who is then near it for 2 near_m at the speed the event measured
    (walking pace when it measured none)."""
    near: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for node_id, t, _count, speed, _flags in events:
        if node_id not in poles:
            continue
        v = speed if speed is not None and speed > 0 else WALK_MPS
        came = t - delay_s
        near[node_id].append((came, came + 2 * near_m / v))
    return near


def oracle_energy(poles: dict[str, Pole], zones: ZoneBook, start: float, end: float,
                  measured: Iterable[str], near: dict[str, list[tuple[float, float]]]
                  ) -> dict[str, float]:
    """Watt-hours of each pole under the oracle: a controller that knows where
    everyone is and lights each pole at its zone's active level exactly while
    someone is near it (no hold after, no pole lit ahead that nobody reaches,
    no ramps), at the zone's idle level the rest of the lit hours. The
    lowest energy any controller keeping the zone's levels can reach."""
    return lamp_energy(poles, zones, start, end, measured, near)
