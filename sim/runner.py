"""Drives a district's virtual nodes in virtual time against a real gateway.

Each node runs the firmware's own node classes on a simulated hardware layer
with its own UDP socket. Virtual time jumps from event to event; it waits in
real time only where a node needs the gateway's answer before one of its
retransmission timers would expire, so many exchanges can be in flight at once
and a simulated day takes seconds.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware.lighting.node import LightNode
from firmware.settings import Config
from firmware.waste.node import BinNode
from sim.district import District, SimBin, SimPole, detection_times, node_key
from sim.engine import Engine
from sim.hal import PresenceInput, RecordingLed, SimHal, UltrasonicModel

# Longest real time to wait for the gateway before letting a node's
# retransmission timer fire: loopback answers take milliseconds.
ANSWER_WAIT_S = 0.5
# Non-confirmable sends are paced in real time so a fast simulation does not
# overrun the gateway's socket buffer (real nodes are spread over real time).
NON_PER_REAL_SECOND = 1500


# Virtual ms between polls of a light node while its lamp ramps: the recorded
# level is a staircase of this step (a real node polls every 20 ms).
RAMP_TICK_MS = 1000


def node_config(node_id: str, role: str, gateway: tuple[str, int], **extra: object) -> Config:
    """The config a technician's provisioning would write to the node."""
    raw: dict[str, object] = {"id": node_id, "role": role, "gateway_host": gateway[0],
                              "gateway_port": gateway[1]}
    raw.update(extra)
    return Config(raw)


@dataclass
class BinDevice:
    sim_bin: SimBin
    cfg: Config
    hal: SimHal
    node: BinNode | None = None  # None while in deep sleep
    deadline_ms: int | None = None  # the retransmission check already scheduled
    acked: list[tuple[int, int]] = field(default_factory=list)  # (seq, measured unix time)
    failed: list[str] = field(default_factory=list)
    wakes: int = 0  # measurements, reported or not
    queued: int = 0  # reports in the node's queue in flash after its last wake


@dataclass
class LightDevice:
    """A light pole: the firmware's LightNode on a simulated hardware layer.
    `presence.trigger()` is someone coming into its sensor's range, `led`
    records the lamp's (virtual ms, level) changes, `hal.settings` is its
    flash. Its socket stays open: a datagram from the gateway (a brighten
    command, a zone profile, a ping's answer) is handed to it when it arrives."""

    pole: SimPole
    cfg: Config
    hal: SimHal
    led: RecordingLed
    presence: PresenceInput
    node: LightNode
    deadline_ms: int | None = None  # the poll already scheduled


@dataclass
class Outcome:
    virtual_hours: float
    real_seconds: float
    bins: list[BinDevice]
    lights: list[LightDevice]

    @property
    def reports_acked(self) -> int:
        return sum(len(b.acked) for b in self.bins)

    @property
    def reports_failed(self) -> int:
        """Reports the gateway refused, or still in a node's queue at the end."""
        return sum(len(b.failed) + b.queued for b in self.bins)

    @property
    def measurements(self) -> int:
        return sum(b.wakes for b in self.bins)

    @property
    def presence_sent(self) -> int:
        return sum(d.node.events_sent for d in self.lights)

    @property
    def light_energy_ratio(self) -> float:
        """Lamp energy as a share of all lamps at full for the whole run."""
        if not self.lights:
            return 0.0
        end = int(self.virtual_hours * 3_600_000)
        return sum(d.led.mean_level(end) for d in self.lights) / (100 * len(self.lights))


class Simulation:
    def __init__(self, district: District, gateway: tuple[str, int], hours: float,
                 start_unix: int, report_interval_s: int = 3600, seed: int = 1,
                 answer_wait_s: float = ANSWER_WAIT_S, heartbeat_s: int | None = None,
                 kids: Mapping[str, str] | None = None) -> None:
        """report_interval_s: how often the bin nodes wake and measure.
        heartbeat_s: their report policy's heartbeat; None makes it equal to
        the interval, so that every measurement is reported (what the
        simulated district and its tests have counted on so far).
        kids: node id -> the OSCORE kid its registration (with the node's
        key, district.nodes(keyed=True)) was answered with; those nodes get
        key and kid in their config and protect everything they say."""
        self.district = district
        self.kids = dict(kids or {})
        self.gateway = gateway
        self.end_ms = int(hours * 3_600_000)
        self.hours = hours
        self.answer_wait_s = answer_wait_s
        self._started: float | None = None
        self.engine = Engine(start_unix)
        self.clock = self.engine.clock
        self._selector = selectors.DefaultSelector()
        self._non_budget = 0.0
        self._non_clock = time.monotonic()
        self.bins = [self._bin_device(b, i + seed * 100_000, report_interval_s,
                                      heartbeat_s or report_interval_s)
                     for i, b in enumerate(district.bins)]
        self.lights = [self._light_device(p, i + seed * 200_000, i + 1)
                       for i, p in enumerate(district.poles)]

    # --- building devices --------------------------------------------------
    def _keys(self, node_id: str) -> dict[str, object]:
        """config.json's key and kid, for a node the gateway gave a kid."""
        kid = self.kids.get(node_id)
        return {} if kid is None else {"key": node_key(node_id), "kid": kid}

    def _bin_device(self, b: SimBin, seed: int, interval_s: int, heartbeat_s: int) -> BinDevice:
        cfg = node_config(b.node_id, "bin", self.gateway, measure_interval_s=interval_s,
                          heartbeat_s=heartbeat_s, **self._keys(b.node_id))
        hal = SimHal(self.clock, self.gateway, seed)
        hal.fill_sensor = UltrasonicModel(b, self.clock, cfg.empty_mm, cfg.full_mm, hal.rng)
        dev = BinDevice(b, cfg, hal)
        first = int(hal.rng.uniform(0, interval_s * 1000))
        self.engine.at(first, lambda: self._wake(dev))
        return dev

    def _light_device(self, pole: SimPole, seed: int, addr: int) -> LightDevice:
        """A pole's node, lit from virtual time 0; short address `addr`, and
        its place, so that it takes night from the sun's times."""
        cfg = node_config(pole.node_id, "light", self.gateway, addr=addr, lat=pole.lat,
                          lon=pole.lon, **self._keys(pole.node_id))
        hal = SimHal(self.clock, self.gateway, seed)
        led, presence = RecordingLed(self.clock), PresenceInput()
        hal.led, hal.presence = led, presence
        node = LightNode(cfg, hal)
        node.ramp_tick_ms = RAMP_TICK_MS
        dev = LightDevice(pole, cfg, hal, led, presence, node)
        self._selector.register(hal.net.sock, selectors.EVENT_READ, dev)
        self._schedule_light(dev)
        return dev


    # --- bin nodes ---------------------------------------------------------
    def _wake(self, dev: BinDevice) -> None:
        # A wake from deep sleep starts the firmware afresh: only what the
        # node saved in RTC memory carries over.
        node = BinNode(dev.cfg, dev.hal)
        dev.wakes += 1
        if not node.wake():  # nothing to report: straight back to sleep
            sleep_ms = node.sleep()
            self.engine.at(self.clock.now_ms + sleep_ms, lambda: self._wake(dev))
            return
        dev.node = node
        node.send()
        self._selector.register(dev.hal.net.sock, selectors.EVENT_READ, dev)
        self._after_bin_poll(dev)

    def _poll_bin(self, dev: BinDevice) -> None:
        if dev.node is not None:
            dev.node.poll()
            self._after_bin_poll(dev)

    def _after_bin_poll(self, dev: BinDevice) -> None:
        node = dev.node
        assert node is not None
        if node.uplink.busy():
            deadline = node.next_deadline_ms()
            assert deadline is not None
            if deadline != dev.deadline_ms:
                dev.deadline_ms = deadline
                self.engine.at(deadline, lambda: self._poll_bin(dev))
            return
        dev.acked.extend(node.acked)
        dev.failed += [f"{code} report {seq}" for seq, code in node.refused]
        dev.queued = len(node.outbox)
        self._selector.unregister(dev.hal.net.sock)
        sleep_ms = node.sleep()
        dev.node = None
        self.engine.at(self.clock.now_ms + sleep_ms, lambda: self._wake(dev))

    # --- light nodes -------------------------------------------------------
    def _detect(self, dev: LightDevice) -> None:
        dev.presence.trigger()
        self._poll_light(dev)

    def _poll_light(self, dev: LightDevice) -> None:
        before = dev.hal.net.sent
        dev.node.poll()
        if dev.hal.net.sent != before:
            self._pace_non()
        self._schedule_light(dev)

    def _schedule_light(self, dev: LightDevice) -> None:
        """One pending poll per light node, at its next deadline."""
        now = self.clock.now_ms
        deadline = max(dev.node.next_deadline_ms(), now + 1)
        if dev.deadline_ms is not None and now < dev.deadline_ms <= deadline:
            return  # an earlier poll is already scheduled
        dev.deadline_ms = deadline
        self.engine.at(deadline, lambda: self._light_timer(dev, deadline))

    def _light_timer(self, dev: LightDevice, t_ms: int) -> None:
        if dev.deadline_ms == t_ms:  # else superseded by an earlier one
            dev.deadline_ms = None
            self._poll_light(dev)

    def _pace_non(self) -> None:
        now = time.monotonic()
        self._non_budget = min(100.0, self._non_budget
                               + (now - self._non_clock) * NON_PER_REAL_SECOND) - 1
        self._non_clock = now
        if self._non_budget < 0:
            time.sleep(-self._non_budget / NON_PER_REAL_SECOND)

    # --- the loop ----------------------------------------------------------
    @staticmethod
    def _awaits_answer(dev: BinDevice | LightDevice, before_ms: int | None) -> bool:
        """The node has a confirmable exchange whose timer fires before `before_ms`."""
        node = dev.node
        if node is None or not node.uplink.busy():
            return False
        deadline = node.uplink.next_deadline_ms()
        return before_ms is None or (deadline or 0) <= before_ms

    def _deliver(self, before_ms: int | None, wait: bool) -> None:
        """Hand arrived datagrams to their nodes. With `wait`, block (in real
        time) for nodes whose timers would fire before `before_ms`."""
        while True:
            urgent = wait and any(self._awaits_answer(key.data, before_ms)
                                  for key in self._selector.get_map().values())
            ready = self._selector.select(self.answer_wait_s if urgent else 0)
            if not ready:
                return
            for key, _ in ready:
                if isinstance(key.data, LightDevice):
                    self._poll_light(key.data)
                else:
                    self._poll_bin(key.data)

    def run_until(self, hours: float) -> None:
        """Advance virtual time to `hours` after the start (or the end)."""
        if self._started is None:
            self._started = time.monotonic()
            detections = detection_times(self.district)
            for dev in self.lights:
                for t in detections[dev.pole.node_id]:
                    self.engine.at(int(t * 1000), lambda d=dev: self._detect(d))  # type: ignore[misc]
        until = min(self.end_ms, int(hours * 3_600_000))
        while self.engine.due(until):
            # Answers the gateway owes before the next event are awaited first.
            self._deliver(self.engine.next_ms(), wait=True)
            self.engine.fire()

    def run(self) -> Outcome:
        """Run to the end, let exchanges in flight finish, and close."""
        self.run_until(self.hours)
        assert self._started is not None
        self._deliver(None, wait=True)
        for hal in [b.hal for b in self.bins] + [lt.hal for lt in self.lights]:
            hal.net.close()
        self._selector.close()
        return Outcome(self.hours, time.monotonic() - self._started, self.bins, self.lights)
