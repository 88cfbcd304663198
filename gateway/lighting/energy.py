"""What street lighting uses: recorded presence events replayed through the
light wave, and the energy of every pole from the levels that gives.

A pole is at its zone's active level while a command or its own detection
holds it (from the detection for the zone's hold; from the command's arrival
for the command's hold), at the idle level otherwise while its zone is lit,
and off outside the zone's hours. Ramps are left out: a fraction of a second
up, some seconds down, against holds of a minute or more.

Pure logic: no CoAP, no SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from gateway.lighting.streets import Network
from gateway.lighting.wave import LightWave, Pole, WaveSettings
from gateway.lighting.zones import ZoneBook

Event = tuple[str, float, int, float | None, int]  # node, time, count, speed, flags


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
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
    first_min, last_min = int(start // 60), int(end // 60)
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
                    total += idle * 60
            baseline[key] = total
        extra = 0.0
        for a, b in _merge(active.get(node_id, [])):
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
