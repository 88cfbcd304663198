"""Changing a zone, as the operator's command line and the HTTP API both do
it: a change checked against the zone as stored (one-line reasons, from
gateway/lighting/zones.py), the settings it changes as the zone log keeps
them, and the energy effect of the change from the recorded presence events
replayed through the light wave (gateway/lighting/energy.py).

Pure logic: the callers read the store and save."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.lighting.energy import Event, replay_energy
from gateway.lighting.wave import WaveSettings
from gateway.lighting.wave_parts import build_wave_parts
from gateway.lighting.zones import Step, Zone, ZoneBook, ZoneError
from gateway.records import Node

# The settings a change may name (the Zone's fields but its name and revision).
CHANGEABLE = ("idle_pct", "active_pct", "hold_s", "ramp_up_s", "ramp_down_s", "safe_idle_pct",
              "offline_after_min", "hours", "dusk_offset_min", "dawn_offset_min", "steps",
              "lamp_w", "timezone")
STEPS_MAX = 48  # a step per half hour of the day, at most


class EffectError(ValueError):
    """The effect cannot be worked out (no streets, no poles); the message
    says what to do."""


def stored_zone(zone_rows: Iterable[tuple[str, str, int]], name: str) -> Zone:
    """The zone as stored, or its defaults when it was never set."""
    for zname, settings, revision in zone_rows:
        if zname == name:
            return Zone.from_json(settings, revision)
    return Zone(name)


def propose(current: Zone, changes: Mapping[str, Any]) -> Zone:
    """The zone with the changes made and checked; ZoneError names the first
    bad setting. changes: CHANGEABLE names, None meaning unchanged; steps as
    texts like 23:00-05:00=10/60 (an empty list removes them)."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ZoneError(f"{unknown[0]!r} is not a zone setting; the settings are "
                        + ", ".join(CHANGEABLE))
    given = {k: v for k, v in changes.items() if v is not None}
    if "steps" in given:
        steps = given["steps"]
        if isinstance(steps, str) or not isinstance(steps, list | tuple):
            raise ZoneError("steps must be a list of steps like 23:00-05:00=10/60")
        if len(steps) > STEPS_MAX:
            raise ZoneError(f"at most {STEPS_MAX} night steps, got {len(steps)}")
        if not all(isinstance(s, str) for s in steps):
            raise ZoneError("each step must be text like 23:00-05:00=10/60")
        given["steps"] = tuple(Step.parse(s) for s in steps)
    return current.changed(**given)


def differences(old: Zone, new: Zone) -> list[tuple[str, str, str]]:
    """(setting, old, new) of each setting that differs, as the log keeps them."""
    before, after = old.settings(), new.settings()
    return [(k, before[k], after[k]) for k in before if before[k] != after[k]]


@dataclass(frozen=True)
class Effect:
    zone: str
    poles: int
    events: int  # presence events of the zone's poles replayed
    start: float
    end: float
    now_wh: float
    proposed_wh: float

    @property
    def change_pct(self) -> float | None:
        if self.now_wh <= 0:
            return None
        return (self.proposed_wh - self.now_wh) / self.now_wh * 100


def energy_effect(nodes: Mapping[str, Node], streets: tuple[int, str, str] | None,
                  zone_rows: list[tuple[str, str, int]], events: list[Event], name: str,
                  proposed: Zone, start: float, end: float) -> Effect:
    """The zone's energy from start to end as it is and with the proposed
    settings, from the presence events replayed through the light wave.
    Pure; EffectError when it cannot be worked out."""
    if streets is None:
        raise EffectError("no streets imported: run 'kvarter streets import FILE' first")
    network, poles, zones, _ = build_wave_parts(nodes, streets, zone_rows)
    if network is None:
        raise EffectError("the stored streets cannot be read: import them again")
    measured = {p for p, pole in poles.items() if pole.zone == name}
    if not measured:
        raise EffectError(f"zone {name} has no light poles")
    settings = WaveSettings()
    now_wh = replay_energy(events, network, poles, zones, settings, start, end, measured)
    changed = ZoneBook({**zones.zones, name: proposed})
    new_wh = replay_energy(events, network, poles, changed, settings, start, end, measured)
    return Effect(name, len(measured), sum(1 for e in events if e[0] in measured), start, end,
                  sum(now_wh.values()), sum(new_wh.values()))
