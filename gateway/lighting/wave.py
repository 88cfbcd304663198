"""The light wave: on a presence event at one pole, which poles to brighten,
to what level and for how long, so that whoever was detected finds every pole
ahead already at its zone's active level when they reach it, and a few poles
lit behind them; and never more than that.

Timing. A decision made at time t reaches a pole and is applied at
t + latency_s; the lamp is at its active level ramp_up_s later. Someone
moving at v m/s reaches a pole d m ahead at t + d / v. Poles ahead are
brightened as far as v × (latency + ramp up + preview_s), and at least
min_ahead poles and min_ahead usual pole spacings on every branch past a
junction; preview_s is how much lit street a driver sees ahead. At a pole
standing at a junction the wave goes every way: nobody knows which street
the person is on, nor so what the sensor's "up" means.
Each pole is held until the person can have reached it even if they slow to
`slack` of their speed, plus the zone's hold.

Direction and speed come from the event (radar) when it has them; otherwise
from the previous detection at a neighbouring pole shortly before (that gives
the direction, and the distance along the streets over the time between the
two a speed). Without either the wave goes both ways at walking pace.

A pole already commanded to the level, for long enough, is not commanded
again: someone walking down a street costs one new target per pole, not four
per pole. All targets of one decision at the same level go in one Brighten
command (up to 32 targets each), held for the longest of their holds.

Pure logic: no CoAP, no SQLite, no clock of its own (the caller gives t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.lighting.streets import Network
from gateway.lighting.zones import ZoneBook

WALK_MPS = 1.4
CYCLE_MPS = 5.0
CAR_MPS = 14.0  # 50 km/h
MAX_SPEED_MPS = 30.0  # faster than this between two poles: not the same person
MIN_INFER_MPS = 0.5  # slower than this between two poles: not the same person
INFER_MAX_M = 100.0  # look this far along the street for the previous detection
INFER_POLES = 2  # and at most at this many poles on each side


@dataclass(frozen=True)
class WaveSettings:
    latency_s: float = 1.0  # event up, decision, command down, applied
    preview_s: float = 8.0  # lit street seen ahead, beyond the latency and ramp
    # Poles ahead at least, and behind. Stockholm's Kungsholms strand lit 4
    # ahead and 3 behind; 3 and 2 light the way as well (nobody reaches a
    # pole below its active level in the night scene, sim/lighting.py) for
    # less energy. Faster people get more poles ahead from their speed.
    min_ahead: int = 3
    behind: int = 2
    behind_max_m: float = 150.0
    slack: float = 0.75  # holds allow for slowing down to this share of the speed
    unknown_hold_speed_mps: float = 0.7  # holds for someone of unknown speed: a slow walker


@dataclass(frozen=True)
class Pole:
    node_id: str
    addr: int
    zone: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Target:
    node_id: str
    distance_m: float
    ahead: bool
    level_pct: int
    hold_s: int  # what this pole needs from the command


@dataclass
class Command:
    brighten: light_codec.Brighten
    node_ids: list[str]  # who it goes to (their short addresses are its targets)


@dataclass
class Decision:
    node_id: str
    at: float
    direction: int  # +1 up the street, -1 down, 0 both ways
    speed_mps: float | None
    speed_from: str  # "radar", "neighbour", "assumed"
    targets: list[Target] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    skipped: int = 0  # targets already lit long enough by earlier commands


class LightWave:
    def __init__(self, network: Network, poles: dict[str, Pole], zones: ZoneBook,
                 settings: WaveSettings | None = None, first_command_id: int = 1) -> None:
        self.network = network
        self.poles = poles
        self.zones = zones
        self.settings = settings or WaveSettings()
        self.command_id = first_command_id & 0xFFFF
        self.last_seen: dict[str, float] = {}  # node id -> time of its last detection
        self.lit: dict[str, tuple[int, float]] = {}  # node id -> (level, held until)

    def _infer(self, node_id: str, t: float) -> tuple[int, float | None]:
        """(direction, speed) from the latest recent detection next to the pole."""
        best: dict[int, tuple[float, float]] = {}  # side -> (seconds ago, speed)
        for side, up in ((-1, False), (1, True)):
            for d, other in self.network.neighbours(node_id, up)[:INFER_POLES]:
                if d > INFER_MAX_M:
                    break
                seen = self.last_seen.get(other)
                if seen is None:
                    continue
                ago = t - seen
                if ago <= 0 or ago > d / MIN_INFER_MPS:
                    continue
                speed = d / ago
                if speed > MAX_SPEED_MPS:
                    continue
                if side not in best or ago < best[side][0]:
                    best[side] = (ago, speed)
        if len(best) == 1:
            (side, (_, speed)), = best.items()
            return -side, speed  # coming from that side: going the other way
        if len(best) == 2:
            return 0, max(s for _, s in best.values())
        return 0, None

    def decide(self, node_id: str, t: float, speed_mps: float | None = None,
               flags: int = 0) -> Decision | None:
        """What to do about a detection at node_id at time t (seconds). None
        when the pole is not on a street of the network."""
        if node_id not in self.network.sides:
            return None
        direction = 1 if flags & codec.PRESENCE_DIR_UP else (
            -1 if flags & codec.PRESENCE_DIR_DOWN else 0)
        speed_from = "radar" if speed_mps else "assumed"
        if node_id in self.network.at_junction:
            # Which street are they on? The sensor's "up" may be another
            # street's: every branch is ahead.
            direction = 0
        if not direction or not speed_mps:
            inf_dir, inf_speed = self._infer(node_id, t)
            if not direction and node_id not in self.network.at_junction:
                direction = inf_dir
            if not speed_mps and inf_speed is not None:
                speed_mps, speed_from = inf_speed, "neighbour"
        self.last_seen[node_id] = t
        here = self.poles.get(node_id)
        if here is not None:  # the pole lit itself on its detection
            on, _, active = self.zones.levels(here.zone, t, here.lat, here.lon)
            if on:
                self.lit[node_id] = (active, t + self.zones.zone(here.zone).hold_s)
        decision = Decision(node_id, t, direction, speed_mps or None, speed_from)
        s = self.settings
        v = speed_mps or WALK_MPS
        v_hold = s.slack * speed_mps if speed_mps else s.unknown_hold_speed_mps
        chosen: dict[str, tuple[float, bool]] = {}
        for side, up in ((1, True), (-1, False)):
            ahead = direction in (0, side)
            for k, (d, other) in enumerate(self.network.neighbours(node_id, up)):
                pole = self.poles.get(other)
                if pole is None:
                    continue
                if ahead:
                    zone = self.zones.zone(pole.zone)
                    # At least min_ahead poles' worth of street on every branch.
                    reach = max(v * (s.latency_s + zone.ramp_up_s + s.preview_s),
                                s.min_ahead * self.network.spacing_m)
                    if k >= s.min_ahead and d > reach:
                        break
                elif k >= s.behind or d > s.behind_max_m:
                    break
                prev = chosen.get(other)
                if prev is None or (ahead and not prev[1]):
                    chosen[other] = (d, ahead)
        groups: dict[int, list[Target]] = {}
        for other, (d, ahead) in chosen.items():
            pole = self.poles[other]
            on, _, active = self.zones.levels(pole.zone, t, pole.lat, pole.lon)
            if not on:
                continue
            zone = self.zones.zone(pole.zone)
            hold = zone.hold_s + (d / v_hold if ahead else 0.0)
            target = Target(other, d, ahead, active, int(math.ceil(hold)))
            decision.targets.append(target)
            level, until = self.lit.get(other, (-1, -math.inf))
            # Already at this level (or above) for long enough: leave it be.
            # Behind, half the hold is enough: the person has passed.
            slack = min(10.0, zone.hold_s / 2) if ahead else zone.hold_s / 2
            if level >= active and until >= t + s.latency_s + hold - slack:
                decision.skipped += 1
                continue
            groups.setdefault(active, []).append(target)
        for level, targets in sorted(groups.items()):
            targets.sort(key=lambda tg: tg.distance_m)
            for i in range(0, len(targets), light_codec.BRIGHTEN_MAX_TARGETS):
                chunk = targets[i:i + light_codec.BRIGHTEN_MAX_TARGETS]
                hold_s = min(0xFFFF, max(tg.hold_s for tg in chunk))
                cmd = light_codec.Brighten(self.command_id, level, hold_s,
                                           [self.poles[tg.node_id].addr for tg in chunk])
                self.command_id = (self.command_id + 1) & 0xFFFF
                decision.commands.append(Command(cmd, [tg.node_id for tg in chunk]))
                for tg in chunk:
                    self.lit[tg.node_id] = (level, t + s.latency_s + hold_s)
        return decision

    def forget_before(self, t: float) -> None:
        """Drop state older than t (call now and then: bounded memory)."""
        self.last_seen = {k: v for k, v in self.last_seen.items() if v >= t}
        self.lit = {k: v for k, v in self.lit.items() if v[1] >= t}
