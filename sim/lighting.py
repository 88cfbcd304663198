"""A night of street lighting: the scene's poles run the light node firmware
on a simulated hardware layer, and their presence events go to the gateway's
own light wave (gateway/lighting/wave.py), whose brighten commands come back to
the nodes as CoAP requests after a latency, all in virtual time. The commands
are protected as the gateway protects them (gateway/lighting/commands.py,
one frame per zone under the zone's key), and the poles verify them. The lamps'
levels are then judged: energy against full all night, and dark arrivals.

The night is also judged against an oracle that lights each pole exactly
while someone is near it (the same oracle as the gateway's energy per night,
gateway/lighting/energy.py, fed here with where everyone really is).

The wave runs in-process here because it keys on the time of each event, and a
night passes in seconds; the network path to a running gateway (UDP, CoAP,
the commands reaching real sockets) is tested on its own in
tests/test_lighting_gateway.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from firmware.proto import coap
from firmware.settings import Config
from gateway.lighting.commands import CommandSender, command_frames
from gateway.lighting.energy import full_energy, oracle_energy
from gateway.lighting.streets import load_network
from gateway.lighting.wave import LightWave, Pole, WaveSettings
from gateway.lighting.zones import Zone, ZoneBook
from gateway.records import Node
from gateway.security.zone import ZoneContext
from gateway.storage.zone_keys import ZoneKeyRow
from sim.engine import Engine
from sim.hal import PresenceInput, QueueNet, RecordingLed, SimHal
from sim.night_scene import LampTrace, NightResult, Scene, detections, judge, near_intervals

# The zones of the scene: a path for walkers and cyclists, and a road.
# Idle low, full at once ahead of anyone, back down gently: the path holds a
# little longer (people linger), the road less (cars are gone in seconds).
DEFAULT_ZONES = {
    "path": Zone("path", idle_pct=20, active_pct=100, hold_s=20, ramp_up_s=0.5,
                 ramp_down_s=10, hours="always"),
    "road": Zone("road", idle_pct=25, active_pct=100, hold_s=10, ramp_up_s=0.5,
                 ramp_down_s=10, hours="always"),
}


@dataclass
class PoleDevice:
    pole: Pole
    hal: SimHal
    node: LightNode
    led: RecordingLed
    presence: PresenceInput
    scheduled_ms: int | None = None


@dataclass
class NightOutcome:
    result: NightResult
    real_seconds: float
    presence_events: int
    commands: int
    command_targets: int
    decision_ms: list[float] = field(default_factory=list)  # wall time per decision
    # Seconds from a detection until the next pole ahead is at its active
    # level, for every decision that commanded one.
    neighbour_up_s: list[float] = field(default_factory=list)
    commands_refused: int = 0  # by the poles: not verified (none expected)


class NightSimulation:
    def __init__(self, scene: Scene, start_unix: int, zones: dict[str, Zone] | None = None,
                 latency_s: float = 0.2, wave: bool = True, seed: int = 1) -> None:
        self.scene = scene
        self.zones = ZoneBook(dict(zones or DEFAULT_ZONES))
        self.engine = Engine(start_unix)
        self.clock = self.engine.clock
        self.latency_ms = int(latency_s * 1000)
        self.wave_on = wave
        self.devices: dict[str, PoleDevice] = {}
        self.sender = CommandSender("127.0.0.1")  # its framing only: nothing is bound
        self.zone_keys: dict[str, ZoneContext] = {}
        self._keys: dict[str, bytes] = {}
        nodes = []
        for i, p in enumerate(scene.poles):
            zone = self.zones.zone(scene.street(p.street).kind)
            cfg = Config({"id": p.node_id, "role": "light", "gateway_host": "gateway",
                          "addr": p.addr, "lat": p.lat, "lon": p.lon,
                          "idle_pct": zone.idle_pct, "active_pct": zone.active_pct,
                          "hold_s": zone.hold_s, "ramp_up_ds": round(zone.ramp_up_s * 10),
                          "ramp_down_s": zone.ramp_down_s})
            # A pole's hardware: the simulator's one hardware layer, with the
            # network in-process (the wave runs here, not behind a socket).
            hal = SimHal(self.clock, None, seed * 1000 + i)
            hal.net = QueueNet()
            led, presence = RecordingLed(self.clock), PresenceInput()
            hal.led, hal.presence = led, presence
            pole = Pole(p.node_id, p.addr, zone.name, p.lat, p.lon)
            node = LightNode(cfg, hal)
            key = self._zone_key(zone.name, seed)
            # The zone key as the gateway's protected profile push leaves it
            # (tests/security has the push itself: the poles here speak to an
            # in-process wave, without their own keys).
            node.set_profile(node.profile, light_codec.encode_profile(node.profile),
                             (key.id_context, self._keys[zone.name]))
            self.devices[p.node_id] = PoleDevice(pole, hal, node, led, presence)
            nodes.append(Node(p.node_id, "light", p.lat, p.lon, zone.name))
        network = load_network(json.dumps(scene.streets_geojson()), nodes)
        self.wave = LightWave(network, {d.pole.node_id: d.pole for d in self.devices.values()},
                              self.zones, WaveSettings(latency_s=latency_s))
        self.presence_events = 0
        self.commands = 0
        self.command_targets = 0
        self.decision_ms: list[float] = []
        self.next_ahead: list[tuple[float, str]] = []  # (detection s, nearest pole ahead)


    def oracle_share(self) -> float:
        """The oracle's energy for the scene's night, as a share of every lamp
        at full all the time its zone is lit."""
        t0 = float(self.clock.start_unix)
        poles = {d.pole.node_id: d.pole for d in self.devices.values()}
        near = {n: [(t0 + a, t0 + b) for a, b in spans]
                for n, spans in near_intervals(self.scene).items()}
        end = t0 + self.scene.night_s
        oracle = sum(oracle_energy(poles, self.zones, t0, end, poles, near).values())
        full = sum(full_energy(poles, self.zones, t0, end, poles).values())
        return oracle / full if full > 0 else 0.0

    def _zone_key(self, zone: str, seed: int) -> ZoneContext:
        ctx = self.zone_keys.get(zone)
        if ctx is None:
            key = hashlib.sha256(f"{seed}:{zone}".encode()).digest()[:16]
            self._keys[zone] = key
            row = ZoneKeyRow(zone, len(self.zone_keys) + 1, key, 0)
            ctx = self.zone_keys[zone] = ZoneContext(row, lambda c, bound, now: None)
        return ctx

    def _route(self, node_id: str) -> str | None:
        return self.devices[node_id].pole.zone

    def _poll(self, dev: PoleDevice) -> None:
        dev.node.poll()
        self._uplinks(dev)
        deadline = dev.node.next_deadline_ms()
        if deadline is not None and (dev.scheduled_ms is None or deadline < dev.scheduled_ms
                                     or dev.scheduled_ms <= self.clock.now_ms):
            dev.scheduled_ms = max(deadline, self.clock.now_ms + 1)
            self.engine.at(dev.scheduled_ms, lambda: self._poll(dev))

    def _uplinks(self, dev: PoleDevice) -> None:
        out, dev.hal.net.outbox = dev.hal.net.outbox, []
        for data in out:
            msg = coap.decode(data)
            if msg.path().startswith("p/"):
                self.presence_events += 1
                event = codec.decode_presence(msg.payload)
                self._decide(dev, event)
            if msg.mtype == coap.CON:
                # The gateway stores it and answers 2.04, as it does over UDP:
                # that answer is also how the node knows its gateway is there.
                ack = coap.encode(coap.Message(coap.ACK, 0x44, msg.mid, msg.token))
                self.engine.at(self.clock.now_ms + self.latency_ms,
                         lambda a=ack: self._receive(dev, a))  # type: ignore[misc]

    def _decide(self, dev: PoleDevice, event: codec.PresenceEvent) -> None:
        if not self.wave_on:
            return
        started = time.perf_counter()
        decision = self.wave.decide(dev.pole.node_id, self.clock.now_ms / 1000,
                                    event.speed_mps, event.flags)
        self.decision_ms.append((time.perf_counter() - started) * 1000)
        if decision is None:
            return
        ahead = [t for t in decision.targets if t.ahead]
        if ahead:
            nearest = min(ahead, key=lambda t: t.distance_m)
            self.next_ahead.append((self.clock.now_ms / 1000, nearest.node_id))
        for command in decision.commands:
            self.commands += 1
            self.command_targets += len(command.node_ids)
            frames, _ = command_frames(command, self._route, self.zone_keys.get, self.sender)
            for frame, node_ids in frames:
                for node_id in node_ids:
                    target = self.devices[node_id]
                    self.engine.at(self.clock.now_ms + self.latency_ms,
                                   lambda t=target, f=frame: self._receive(t, f))  # type: ignore[misc]

    def _receive(self, dev: PoleDevice, datagram: bytes) -> None:
        dev.hal.net.inbox.append(datagram)
        self._poll(dev)

    def _detect(self, dev: PoleDevice) -> None:
        dev.presence.trigger()
        self._poll(dev)

    def run(self) -> NightOutcome:
        started = time.monotonic()
        for dev in self.devices.values():
            self._poll(dev)
        for d in detections(self.scene):
            dev = self.devices[d.node_id]
            self.engine.at(int(d.t_s * 1000), lambda dv=dev: self._detect(dv))  # type: ignore[misc]
        end_ms = int(self.scene.night_s * 1000)
        self.engine.run_until(end_ms)
        traces = {node_id: LampTrace([(t / 1000, level) for t, level in dev.led.changes])
                  for node_id, dev in self.devices.items()}
        active = {node_id: float(dev.node.profile.active_pct)
                  for node_id, dev in self.devices.items()}
        result = judge(self.scene, traces, active)
        result.oracle_share = self.oracle_share()
        up: list[float] = []
        for seen_s, node_id in self.next_ahead:
            changes = traces[node_id].changes
            at = next((ct for ct, level in changes
                       if ct >= seen_s and level >= active[node_id]), None)
            if at is not None and traces[node_id].level_at(seen_s) < active[node_id]:
                up.append(at - seen_s)  # only poles that had to come up
        return NightOutcome(result, time.monotonic() - started, self.presence_events,
                            self.commands, self.command_targets, self.decision_ms, up,
                            sum(d.node.commands_refused for d in self.devices.values()))
