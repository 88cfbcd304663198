"""The gateway's part of street lighting: it keeps the light wave
(gateway/lighting/wave.py) built from the imported streets, the registry and
the zones (rebuilt when any of them changes), feeds it the accepted presence
events, sends what it decides (gateway/lighting/commands.py), learns each
light node's UDP address from its uplinks, applies night steps, and counts
presence and energy per zone for MQTT.

Commands for poles with keys go protected with their zone's key; the key
reaches each such pole inside its own protected profile push, which the
gateway repeats (at most every KEY_RETRY_S; LORA_KEY_RETRY_S for a pole heard
over LoRa, whose pushes spend the downlink's duty cycle) until the pole has
acknowledged its zone's current key: at start, after `kvarter lights zone
rekey`, for a new pole, for a pole moved to another zone. A pole on Wi-Fi is
pushed over UDP; a pole heard over LoRa over the air (gateway/radio/lora.py,
`push`). The operator's `lights zone push` is a request in the database that
this gateway carries out."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from firmware.lighting import payload as light_codec
from firmware.proto.paths import PROFILE_PATH
from gateway.coap.addresses import Address, plain_address
from gateway.lighting.commands import CommandSender, command_frames, push_profile
from gateway.lighting.wave import Command, Decision, LightWave, WaveSettings
from gateway.lighting.wave_parts import build_wave_parts
from gateway.lighting.zones import Zone, ZoneBook
from gateway.privacy import (
    DEFAULT_MIN_COUNT,
    QUARTER_HOUR_S,
    ZoneInterval,
    last_closed,
    shown,
)
from gateway.records import Node, PresenceRecord, StatusRecord
from gateway.security.zone import ZoneContext, ZoneKeys, write_ahead
from gateway.storage.store import Store
from gateway.tasks import cancel, settle_heap

log = logging.getLogger("gateway.lights")

KEY_RETRY_S = 60.0  # a pole without its zone's key is pushed again at most this often
# The same over LoRa: a push that goes unanswered spends up to three frames
# of the gateway's downlink airtime.
LORA_KEY_RETRY_S = 600.0
# Poles pushed their key per round (a second, or as long as the round's pushes
# take): a district's first start, or a large zone's rekey, goes out over
# some seconds instead of in one burst that would hold up the light wave.
KEY_PUSH_BATCH = 25
PUSH_TIMEOUT_S = 10.0
# Key pushes start this far apart: each costs the event loop a protected
# request (about a millisecond), and a presence event that comes meanwhile
# waits for it; paced, a round of pushes delays no event by more than one.
KEY_PUSH_PACE_S = 0.02
# Other pushes (night steps, the operator's push of a zone) reach every pole
# of a zone and someone waits for them: paced closer, 2,000 poles start
# within 4 s.
PUSH_PACE_S = 0.002
# Addresses learned from uplinks are written at most this often, together:
# one transaction (and one thread hand-off) for a burst rather than one per
# pole. Commands use the address in memory at once; a crash loses at most
# this much learning, which the poles' next uplinks redo.
ADDRESS_WRITE_S = 0.5


def zone_of(node: Node | None) -> str:
    return node.kind if node is not None and node.kind else "default"


@dataclass
class ZoneTally:
    energy_dwh: int = 0
    reporting: int = 0


# Presence counts of an interval are published again while they change (a
# pole's event arriving late) for this many intervals after it closed.
COUNTS_LOOKBACK = 2


class Lighting:
    def __init__(self, store: Store, nodes: Mapping[str, Node], bind_host: str,
                 settings: WaveSettings, publish: Callable[[str, dict[str, object]], None],
                 interval_s: float, presence_interval_s: int = QUARTER_HOUR_S,
                 presence_min_count: int = DEFAULT_MIN_COUNT) -> None:
        self.store = store
        self.nodes = nodes
        self.settings = settings
        self.publish = publish
        self.interval_s = interval_s
        self.presence_interval_s = presence_interval_s
        self.presence_min_count = presence_min_count
        # What went out of each (zone, interval start), and the first
        # interval to publish: the one before the gateway started.
        self._counts_sent: dict[tuple[str, int], dict[str, object]] = {}
        self._counts_from = last_closed(time.time(), presence_interval_s) - presence_interval_s
        self.sender = CommandSender(bind_host)
        self.wave: LightWave | None = None
        self.zones = ZoneBook()  # as stored, with or without streets
        self.stepped: dict[str, tuple[int, int]] = {}  # zone -> (idle, active) pushed
        self.addresses: dict[str, Address] = {}
        self._unsaved: dict[str, Address] = {}  # learned, not yet written
        self._saving = False
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
        # Set when the gateway has a radio: whether a node was heard over
        # LoRa, and a protected request to such a pole (node id, its
        # context, path, payload) -> outcome as push_profile gives it.
        self.lora_on_air: Callable[[str], bool] | None = None
        self.lora_push: Callable[[str, object, str, bytes], Awaitable[str]] | None = None
        # Set by the gateway: a node's OSCORE context (None: it has no key),
        # which profile pushes to it are protected with.
        self.oscore_context: Callable[[str], object | None] | None = None
        # Set by the gateway: each zone's key for group commands.
        self.zone_keys: ZoneKeys | None = None
        self.key_holders: dict[str, int] = {}  # pole -> gid of the zone key it acknowledged
        self._key_tried: dict[str, float] = {}  # pole -> when its key was last pushed
        self._air_pushing: set[str] = set()  # poles whose push over LoRa is under way
        self._syncing = False
        self.unkeyed = 0  # command targets left out: their zone has no key yet
        # Set by the gateway: told each profile push's outcome per pole (zone,
        # revision, pole -> outcome), for people's live screens.
        self.pushed: Callable[[str, int, dict[str, str]], None] | None = None

    async def start(self) -> None:
        self.addresses = await asyncio.to_thread(self.store.light_addresses)
        self.key_holders = await asyncio.to_thread(self.store.zone_key_holders)
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
        if self.zone_keys is not None:
            await self.zone_keys.close()
        if self.decisions:
            log.info("light wave: %d decisions, %.3f ms each on average, %d commands sent "
                     "over UDP, %d poles commanded over LoRa, %d left out for want of a "
                     "zone key", self.decisions, 1000 * self.decide_s / self.decisions,
                     self.sender.sent, self.lora_sent, self.unkeyed)

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
        settle_heap()
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
            if not self._syncing:
                self._syncing = True
                self._spawn(self._sync_keys_logged(time.time()))

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
            results = await self.push_zone(name, now)
            done = sum(1 for r in results.values() if r == "acknowledged")
            log.info("lights: zone %s now idle %d %%, active %d %%: acknowledged by %d of %d "
                     "poles", name, levels[0], levels[1], done, len(results))

    def _profile_now(self, zone: Zone, now: float) -> light_codec.Profile:
        """The zone's profile with the levels of a night step in force now."""
        if not zone.steps:
            return zone.profile()
        idle, active = zone.levels_at_minute(zone.local_minute(now))
        return zone.changed(idle_pct=idle, active_pct=active).profile()

    def _context(self, node_id: str) -> object | None:
        return None if self.oscore_context is None else self.oscore_context(node_id)

    def _over_lora(self, node_id: str) -> bool:
        """A pole pushed over the air: heard over LoRa, no UDP address."""
        return (node_id not in self.addresses and self.lora_on_air is not None
                and self.lora_on_air(node_id))

    async def push_zone(self, name: str, now: float, only: set[str] | None = None,
                        timeout: float = PUSH_TIMEOUT_S, pace_s: float = PUSH_PACE_S
                        ) -> dict[str, str]:
        """The zone's profile to its poles with an address or heard over
        LoRa with a key (or those of `only`): protected with each keyed
        pole's own context, the zone key inside. Pole -> outcome; a pole that
        acknowledged holds the key. pace_s: between pushes over UDP (over
        LoRa the downlink paces them)."""
        members = [n.node_id for n in self.nodes.values()
                   if n.role == "light" and zone_of(n) == name
                   and (only is None or n.node_id in only)]
        poles = {n: self.addresses[n] for n in members if n in self.addresses}
        # Over the air only protected: a pole without a key is not pushed
        # its profile over LoRa.
        air = {n: c for n in members if self._over_lora(n)
               and (c := self._context(n)) is not None}
        if not poles and not air:
            return {}
        contexts = {n: c for n in poles if (c := self._context(n)) is not None}
        await write_ahead(self.store, [*contexts.values(), *air.values()])
        key = self.zone_keys.get(name) if self.zone_keys is not None else None
        zone = self.zones.zone(name)
        profile = self._profile_now(zone, now)
        zone_key = None if key is None else key.key_part
        udp = push_profile(poles, profile, timeout, contexts=contexts, zone_key=zone_key,
                           pace_s=pace_s) if poles else _nothing()
        results, on_air = await asyncio.gather(udp, self._push_over_lora(air, profile, zone_key))
        results.update(on_air)
        acked = sorted(n for n, r in results.items() if r == "acknowledged")
        if acked:
            # What each pole runs now, for the desk's "running revision N".
            await asyncio.to_thread(self.store.set_running_profiles, name, zone.revision, acked)
        if self.pushed is not None:
            self.pushed(name, zone.revision, results)
        if key is not None:
            held = {n: key.gid for n, r in results.items()
                    if r == "acknowledged" and (n in contexts or n in air)}
            if held:
                self.key_holders.update(held)
                await asyncio.to_thread(self.store.set_zone_key_holders, held)
        return results

    async def _push_over_lora(self, contexts: Mapping[str, object],
                              profile: light_codec.Profile, zone_key: bytes | None
                              ) -> dict[str, str]:
        push = self.lora_push
        if push is None or not contexts:
            return {}
        body = light_codec.encode_profile(profile) + (zone_key or b"")
        ids = sorted(contexts)
        outcomes = await asyncio.gather(*(push(n, contexts[n], PROFILE_PATH, body)
                                          for n in ids))
        return dict(zip(ids, outcomes, strict=True))

    async def _sync_keys_logged(self, now: float) -> None:
        try:
            await self.sync_keys(now)
        except Exception as e:  # poles keep the key they have
            log.error("lights: could not push zone keys: %s", e)
        finally:
            self._syncing = False

    async def sync_keys(self, now: float) -> None:
        """Carry out the operator's push requests, and bring every keyed pole
        the current key of its zone."""
        zone_keys = self.zone_keys
        lights = [n for n in self.nodes.values() if n.role == "light"]
        if zone_keys is not None:
            await asyncio.to_thread(zone_keys.load, sorted({zone_of(n) for n in lights}))
        requests = await asyncio.to_thread(self.store.take_push_requests)
        if requests and await asyncio.to_thread(self.store.lighting_version) != self._version:
            # A change saved just before the push was asked for, after this
            # round's rebuild: the push must carry it.
            await self.refresh()
        for req in requests:
            results = await self.push_zone(req.zone, now, timeout=req.timeout_s)
            await asyncio.to_thread(self.store.finish_push_request, req.id, results)
            done = sum(1 for r in results.values() if r == "acknowledged")
            log.info("lights: zone %s pushed on request: acknowledged by %d of %d poles",
                     req.zone, done, len(results))
        if zone_keys is None:
            return
        due: dict[str, set[str]] = {}
        air: dict[str, set[str]] = {}
        batch = KEY_PUSH_BATCH
        for n in lights:
            if batch <= 0:
                break
            key = zone_keys.get(zone_of(n))
            if key is None or self.key_holders.get(n.node_id) == key.gid:
                continue
            if n.node_id in self.addresses:
                retry, into = KEY_RETRY_S, due
            elif self._over_lora(n.node_id) and n.node_id not in self._air_pushing:
                retry, into = LORA_KEY_RETRY_S, air
            else:
                continue
            if now - self._key_tried.get(n.node_id, -retry) < retry \
                    or self._context(n.node_id) is None:
                continue
            self._key_tried[n.node_id] = now
            into.setdefault(zone_of(n), set()).add(n.node_id)
            batch -= 1
        # Over the air a push takes seconds to minutes (the downlink's turn,
        # the pole's answer, retransmissions): it goes on beside the rounds,
        # which keep bringing poles on Wi-Fi their keys meanwhile.
        for name, ids in sorted(air.items()):
            self._air_pushing.update(ids)
            self._spawn(self._push_keys(name, now, ids, zone_keys.by_zone[name].gid, "over LoRa"))
        for name, ids in sorted(due.items()):
            await self._push_keys(name, now, ids, zone_keys.by_zone[name].gid, "",
                                  KEY_PUSH_PACE_S)

    async def _push_keys(self, name: str, now: float, ids: set[str], gid: int,
                         how: str, pace_s: float = PUSH_PACE_S) -> None:
        try:
            results = await self.push_zone(name, now, ids, pace_s=pace_s)
        except Exception as e:  # the poles are tried again in a later round
            log.error("lights: could not push zone %s's key%s: %s", name,
                      " " + how if how else "", e)
            return
        finally:
            self._air_pushing.difference_update(ids)
        done = sum(1 for r in results.values() if r == "acknowledged")
        log.info("lights: zone %s key (gid %d) acknowledged by %d of %d poles pushed%s", name,
                 gid, done, len(results), " " + how if how else "")

    def _learn(self, node_id: str, sockaddr: tuple[object, ...] | None) -> None:
        if sockaddr is None:
            return
        addr = plain_address(sockaddr)
        if self.addresses.get(node_id) != addr:
            self.addresses[node_id] = addr
            self._unsaved[node_id] = addr
            if not self._saving:
                self._saving = True
                self._spawn(self._save_addresses(ADDRESS_WRITE_S))

    async def _save_addresses(self, delay_s: float) -> None:
        try:
            await asyncio.sleep(delay_s)
        finally:
            # Also when the gateway stops meanwhile: what was learned is kept.
            self._saving = False
            learned, self._unsaved = self._unsaved, {}
            if learned:
                try:
                    await asyncio.to_thread(self.store.set_light_addresses,
                                            [(n, h, p) for n, (h, p) in learned.items()])
                except Exception as e:  # commands go on from memory; learned again later
                    log.error("lights: could not store %d learned address(es): %s",
                              len(learned), e)

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
        wave = self.wave
        if wave is None:
            return None
        t0 = time.perf_counter()
        decision = wave.decide(record.node_id, now, record.event.speed_mps, record.event.flags)
        self.decide_s += time.perf_counter() - t0
        self.decisions += 1
        if decision is not None and decision.commands:
            frames = [f for cmd in decision.commands for f in self.frames(cmd)]
            on_air = self._send_lora(frames)
            self.sender.send(frames, self.addresses, on_air)
        return decision

    def frames(self, cmd: Command) -> list[tuple[bytes, list[str]]]:
        """The command as frames, each with the poles it is for
        (commands.command_frames): a pole with a key, over Wi-Fi or LoRa,
        gets the frame under its zone's key, which it takes only so (its
        zone key comes in its protected profile push, over the air for a
        pole on LoRa); a pole without a key the unprotected one."""

        def route(node_id: str) -> str | None:
            if self._context(node_id) is None:
                return None
            return zone_of(self.nodes.get(node_id))

        frames, unkeyed = command_frames(cmd, route, self._zone_key, self.sender)
        self.unkeyed += unkeyed
        return frames

    def _zone_key(self, zone: str) -> ZoneContext | None:
        return None if self.zone_keys is None else self.zone_keys.get(zone)

    def _send_lora(self, frames: list[tuple[bytes, list[str]]]) -> set[str]:
        """The frames for poles with no UDP address, over the radio;
        returns the poles they go to."""
        send = self.lora_command
        on_air: set[str] = set()
        if send is None:
            return on_air
        for data, node_ids in frames:
            lora_ids = [n for n in node_ids if n not in self.addresses]
            if lora_ids:
                reached = send(lora_ids, data)
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
            try:
                await self._publish_counts(time.time())
            except Exception as e:  # tried again at the next turn
                log.error("lights: presence counts not published: %s", e)

    async def _publish_counts(self, now: float) -> None:
        """Presence counts per zone of the quarter hours (presence_interval_s)
        just closed, from the stored events, as the HTTP API gives them:
        fewer people than presence_min_count suppressed (null). Never the
        interval under way, never a pole's own events (docs/privacy.md)."""
        step = self.presence_interval_s
        end = last_closed(now, step)
        start = max(self._counts_from, end - COUNTS_LOOKBACK * step)
        if start >= end:
            return
        rows = await asyncio.to_thread(self.store.presence_counts, start, end, step, None)
        found = {(c.zone, c.start): c for c in rows}
        zones = {zone_of(n) for n in self.nodes.values() if n.role == "light"}
        zones.update(z for z, _ in found)
        for t in range(start, end, step):
            for zone in sorted(zones):
                c = found.get((zone, t), ZoneInterval(zone, t, 0, 0, 0))
                shown_ = shown(c, step, self.presence_min_count)
                body: dict[str, object] = {
                    "zone": zone, "from": shown_.start, "to": shown_.end,
                    "suppressed": shown_.suppressed, "people": shown_.people,
                    "events": shown_.events, "detections": shown_.detections}
                if self._counts_sent.get((zone, t)) != body:
                    self._counts_sent[(zone, t)] = body
                    self.publish(f"zones/{zone}/counts", body)
        self._counts_sent = {k: v for k, v in self._counts_sent.items() if k[1] >= start}

    def _publish_tallies(self, now: float) -> None:
        """Energy per zone for the interval just ended."""
        zones = {n.kind or "default" for n in self.nodes.values() if n.role == "light"}
        zones.update(self._tally)
        start = self._tally_from
        for zone in sorted(zones):
            tally = self._tally.get(zone, ZoneTally())
            self.publish(f"zones/{zone}/energy", {
                "zone": zone, "from": round(start, 3), "to": round(now, 3),
                "wh": round(tally.energy_dwh / 10, 1) if tally.reporting else None,
                "status_reports": tally.reporting})
        self._tally = {}
        self._tally_from = now


async def _nothing() -> dict[str, str]:
    return {}
