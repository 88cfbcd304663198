"""The gateway's part of street lighting: it keeps the light wave
(gateway/lighting/wave.py) built from the imported streets, the registry and
the zones (rebuilt when any of them changes), feeds it the accepted presence
events, sends what it decides (gateway/lighting/commands.py), learns each
light node's UDP address from its uplinks, applies night steps, and counts
presence and energy per zone for MQTT."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.coap.addresses import Address, plain_address
from gateway.lighting.commands import CommandSender, push_profile
from gateway.lighting.wave import Command, Decision, LightWave, WaveSettings
from gateway.lighting.wave_parts import build_wave_parts
from gateway.lighting.zones import ZoneBook
from gateway.records import Node, PresenceRecord, StatusRecord
from gateway.storage.store import Store
from gateway.tasks import cancel

log = logging.getLogger("gateway.lights")


@dataclass
class ZoneTally:
    events: int = 0
    detections: int = 0
    energy_dwh: int = 0
    reporting: int = 0


class Lighting:
    def __init__(self, store: Store, nodes: Mapping[str, Node], bind_host: str,
                 settings: WaveSettings, publish: Callable[[str, dict[str, object]], None],
                 interval_s: float) -> None:
        self.store = store
        self.nodes = nodes
        self.settings = settings
        self.publish = publish
        self.interval_s = interval_s
        self.sender = CommandSender(bind_host)
        self.wave: LightWave | None = None
        self.zones = ZoneBook()  # as stored, with or without streets
        self.stepped: dict[str, tuple[int, int]] = {}  # zone -> (idle, active) pushed
        self.addresses: dict[str, Address] = {}
        self._dirty = True
        self._version: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._energy: dict[str, int] = {}  # node id -> last energy counter (0.1 Wh)
        self._tally: dict[str, ZoneTally] = {}
        self._tally_from = time.time()
        self.decisions = 0
        self.decide_s = 0.0  # time spent deciding, for the log
        # Set when the gateway has a radio: puts a command frame on the air
        # for the given nodes, returns those it reaches (heard over LoRa).
        self.lora_command: Callable[[list[str], bytes], list[str]] | None = None
        self.lora_sent = 0
        # Set by the gateway: a node's OSCORE context (None: it has no key),
        # which profile pushes to it are protected with.
        self.oscore_context: Callable[[str], object | None] | None = None

    async def start(self) -> None:
        self.addresses = await asyncio.to_thread(self.store.light_addresses)
        await self.sender.start()
        await self.refresh()
        self._loops = [asyncio.create_task(self._refresh_loop(), name="lights-refresh"),
                       asyncio.create_task(self._publish_loop(), name="lights-publish")]

    async def stop(self) -> None:
        for t in self._loops:
            await cancel(t)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._publish_tallies(time.time())
        self.sender.close()
        if self.decisions:
            log.info("light wave: %d decisions, %.3f ms each on average, %d commands sent "
                     "over UDP, %d poles commanded over LoRa", self.decisions,
                     1000 * self.decide_s / self.decisions, self.sender.sent, self.lora_sent)

    def nodes_changed(self) -> None:
        self._dirty = True

    async def refresh(self) -> None:
        """Rebuild the wave from the stored streets and zones and the registry."""
        self._dirty = False
        version = await asyncio.to_thread(self.store.lighting_version)
        streets = await asyncio.to_thread(self.store.streets)
        zone_rows = await asyncio.to_thread(self.store.zone_rows)
        nodes = dict(self.nodes)
        network, poles, zones, problems = await asyncio.to_thread(
            build_wave_parts, nodes, streets, zone_rows)
        self._version = version
        self.zones = zones
        for line in problems:
            log.warning("lights: %s", line)
        if network is None:
            self.wave = None
            return
        old = self.wave
        wave = LightWave(network, poles, zones, self.settings,
                         random.getrandbits(16) if old is None else old.command_id)
        if old is not None:
            wave.last_seen, wave.lit = old.last_seen, old.lit
        self.wave = wave
        log.info("light wave: %d poles on %d streets (%d junctions)",
                 len(network.placements), len(network.streets), network.junctions)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                version = await asyncio.to_thread(self.store.lighting_version)
                if self._dirty or version != self._version:
                    await self.refresh()
                if self.wave is not None:
                    self.wave.forget_before(time.time() - 3600)
            except Exception as e:  # keep lighting on the old wave
                log.error("lights: could not rebuild the light wave: %s", e)
            # Night steps start within a second of their time.
            self._spawn(self._apply_steps_logged(time.time()))

    async def _apply_steps_logged(self, now: float) -> None:
        try:
            await self.apply_steps(now)
        except Exception as e:  # the poles keep the levels they have
            log.error("lights: could not push a night step: %s", e)

    async def apply_steps(self, now: float) -> None:
        """Night steps (a lower class when traffic is low): when a zone's
        levels change at a step's start or end, every pole of the zone gets
        the profile with the levels now in force. At start-up too, so that
        poles are right after a gateway restart."""
        for name, zone in sorted(self.zones.zones.items()):
            if not zone.steps:
                continue
            levels = zone.levels_at_minute(zone.local_minute(now))
            if self.stepped.get(name) == levels:
                continue
            self.stepped[name] = levels  # one push per change, even while it is under way
            profile = zone.changed(idle_pct=levels[0], active_pct=levels[1]).profile()
            poles = {n.node_id: self.addresses[n.node_id] for n in self.nodes.values()
                     if n.role == "light" and n.kind == name and n.node_id in self.addresses}
            contexts = {n: c for n in poles
                        if self.oscore_context is not None
                        and (c := self.oscore_context(n)) is not None}
            results = await push_profile(poles, profile, contexts=contexts) if poles else {}
            done = sum(1 for r in results.values() if r == "acknowledged")
            log.info("lights: zone %s now idle %d %%, active %d %%: acknowledged by %d of %d "
                     "poles", name, levels[0], levels[1], done, len(poles))

    def _learn(self, node_id: str, sockaddr: tuple[object, ...] | None) -> None:
        if sockaddr is None:
            return
        addr = plain_address(sockaddr)
        if self.addresses.get(node_id) != addr:
            self.addresses[node_id] = addr
            self._spawn(asyncio.to_thread(self.store.set_light_address, node_id, *addr))

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tally_for(self, node_id: str) -> ZoneTally:
        node = self.nodes.get(node_id)
        zone = node.kind if node is not None and node.kind else "default"
        return self._tally.setdefault(zone, ZoneTally())

    def presence(self, record: PresenceRecord, sockaddr: tuple[object, ...] | None,
                 now: float) -> Decision | None:
        """An accepted presence event: brighten the poles around."""
        self._learn(record.node_id, sockaddr)
        tally = self._tally_for(record.node_id)
        tally.events += 1
        tally.detections += record.event.count
        wave = self.wave
        if wave is None:
            return None
        t0 = time.perf_counter()
        decision = wave.decide(record.node_id, now, record.event.speed_mps, record.event.flags)
        self.decide_s += time.perf_counter() - t0
        self.decisions += 1
        if decision is not None and decision.commands:
            on_air = self._send_lora(decision.commands)
            self.sender.send(decision.commands, self.addresses, on_air)
        return decision

    def _send_lora(self, commands: list[Command]) -> set[str]:
        """The commands for poles with no UDP address, over the radio;
        returns the poles they go to."""
        send = self.lora_command
        on_air: set[str] = set()
        if send is None:
            return on_air
        for cmd in commands:
            lora_ids = [n for n in cmd.node_ids if n not in self.addresses]
            if lora_ids:
                reached = send(lora_ids, self.sender.frame(cmd.brighten))
                self.lora_sent += len(reached)
                on_air.update(reached)
        return on_air

    def status(self, record: StatusRecord, sockaddr: tuple[object, ...] | None) -> None:
        """A light node's status (already stored): its address and energy."""
        self._learn(record.node_id, sockaddr)
        energy = record.status.energy_dwh
        last = self._energy.get(record.node_id)
        self._energy[record.node_id] = energy
        tally = self._tally_for(record.node_id)
        tally.reporting += 1
        if last is not None:
            tally.energy_dwh += energy - last if energy >= last else energy  # restarted

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self._publish_tallies(time.time())

    def _publish_tallies(self, now: float) -> None:
        """Presence counts and energy per zone for the interval just ended:
        counts only, nothing that tells one person from another."""
        zones = {n.kind or "default" for n in self.nodes.values() if n.role == "light"}
        zones.update(self._tally)
        start = self._tally_from
        for zone in sorted(zones):
            tally = self._tally.get(zone, ZoneTally())
            self.publish(f"zones/{zone}/counts", {
                "zone": zone, "from": round(start, 3), "to": round(now, 3),
                "events": tally.events, "detections": tally.detections})
            self.publish(f"zones/{zone}/energy", {
                "zone": zone, "from": round(start, 3), "to": round(now, 3),
                "wh": round(tally.energy_dwh / 10, 1) if tally.reporting else None,
                "status_reports": tally.reporting})
        self._tally = {}
        self._tally_from = now
