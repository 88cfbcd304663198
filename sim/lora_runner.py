"""A district whose nodes reach the gateway over LoRa, in virtual time.

Every node runs the firmware's own classes with the firmware's own LoRa
transport (firmware/lora/net.py) over a simulated modem on a shared virtual
channel (sim/lora_channel.py). The gateway's radio is the firmware's bridge
(firmware/lora/bridge.py) on six simulated modems, and its serial line is a real
pty (sim/radio_port.py): the gateway process reads and writes it with its own
pyserial code, unchanged.

Virtual time jumps from event to event (a node's wake or timer, the end of a
frame on the air). It stops and waits in real time only while the gateway has
a confirmable uplink to answer, since the answer goes back on the air at the
virtual moment it comes.

Faults on demand: the gateway stopped for a while (cleanly, or killed: a
crash), the radio unplugged, a node losing power in the middle of a send, a
burst of interference.

Nodes given a key and a kid (`keys`, as provisioning writes them into
config.json) protect every frame with OSCORE, as real ones do.
"""

from __future__ import annotations

import selectors
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from firmware.lighting.node import LightNode
from firmware.lora import bridge_frame
from firmware.lora.bridge import DEFAULT_RECEIVERS, Bridge
from firmware.lora.net import LoraNet
from firmware.lora.plan import REQUIRED_SNR_DB10, SF_MAX, SF_MIN
from firmware.proto import coap
from firmware.settings import Config
from firmware.waste.node import BinNode
from firmware.waste.outbox import Outbox
from sim.district import District, SimBin, SimPole, detection_times
from sim.engine import Engine, VirtualClock
from sim.hal import PresenceInput, RecordingLed, SimHal, UltrasonicModel
from sim.lora_channel import Channel, Frame, Radio
from sim.lora_modem import SimModem
from sim.radio_port import RadioPort

# Longest real time to wait for the gateway's answer to one uplink before
# virtual time moves on (loopback and a pty answer in milliseconds).
ANSWER_WAIT_S = 0.5
# A confirmable uplink the gateway has not answered within this much virtual
# time (it was a duplicate it chose not to answer, or it was down) is no
# longer waited for.
PENDING_FORGET_MS = 10_000
GATEWAY_GAIN_DBI = 3.0  # on a mast
BIN_GAIN_DBI = -3.0  # an antenna inside a steel or plastic bin
LIGHT_GAIN_DBI = 0.0  # on the pole's head
RAMP_TICK_MS = 1000  # as sim/runner.py: a ramp recorded as a staircase
INSTALL_MARGIN_DB = 10.0  # as the gateway's data rate keeps


class GatewayControl(Protocol):
    """Stops and starts the real gateway process (the outage faults)."""

    def stop(self) -> None: ...

    def crash(self) -> None: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class Fault:
    """kind: 'gateway down' (a clean stop), 'gateway crash' (killed),
    'radio unplugged', 'interference' (each for `minutes`), or 'reboot'
    (`count` bin nodes lose power mid-send), starting `at_h` hours into the
    run."""
    kind: str
    at_h: float
    minutes: float = 0.0
    count: int = 1


FAULT_KINDS = ("gateway down", "gateway crash", "radio unplugged", "interference", "reboot")


@dataclass
class LoraBin:
    sim_bin: SimBin
    cfg: Config
    hal: SimHal
    modem: SimModem
    node: BinNode | None = None  # None while in deep sleep
    deadline_ms: int | None = None
    created: list[tuple[int, int]] = field(default_factory=list)  # (seq, measured unix)
    acked: dict[tuple[int, int], int] = field(default_factory=dict)  # -> virtual ms of the ack
    refused: list[tuple[int, str]] = field(default_factory=list)
    queued: int = 0
    wakes: int = 0
    reboots: int = 0


@dataclass
class LoraLight:
    pole: SimPole
    cfg: Config
    hal: SimHal
    modem: SimModem
    led: RecordingLed
    presence: PresenceInput
    node: LightNode
    deadline_ms: int | None = None


@dataclass
class LoraOutcome:
    virtual_hours: float
    real_seconds: float
    bins: list[LoraBin]
    lights: list[LoraLight]
    channel: Channel
    bridge: Bridge
    port: RadioPort
    report_interval_s: int
    end_unix: int

    @property
    def reports_created(self) -> int:
        return sum(len(b.created) for b in self.bins)

    @property
    def reports_acked(self) -> int:
        return sum(len(b.acked) for b in self.bins)

    @property
    def reports_queued(self) -> int:
        return sum(b.queued for b in self.bins)

    def delivered_within(self, seconds: int) -> tuple[int, int]:
        """(acknowledged within `seconds` of being measured, reports measured
        at least `seconds` before the end): reports younger than that still
        have time."""
        due = on_time = 0
        start = self.end_unix - int(self.virtual_hours * 3600)
        for b in self.bins:
            for seq, t in b.created:
                if t > self.end_unix - seconds:
                    continue
                due += 1
                acked_ms = b.acked.get((seq, t))
                if acked_ms is not None and start + acked_ms // 1000 - t <= seconds:
                    on_time += 1
        return on_time, due


@dataclass(frozen=True)
class Reckoning:
    """Every report from sensor to database."""
    created: int
    stored: int
    queued: int  # still in a node's flash at the end: not lost, not yet sent
    refused: int  # the gateway said no for good (4.xx)
    lost: list[tuple[str, int, int]]  # created, not stored, not queued, not refused
    stored_twice: list[tuple[str, int]]


def reckon(outcome: LoraOutcome, db: Path) -> Reckoning:
    """Compare what the nodes measured with what the gateway's database holds."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT node_id, seq, measured_at FROM bin_reports").fetchall()
    stored: dict[tuple[str, int], int] = {}
    for node_id, seq, _ in rows:
        stored[(node_id, seq)] = stored.get((node_id, seq), 0) + 1
    lost: list[tuple[str, int, int]] = []
    queued = refused = created = 0
    for b in outcome.bins:
        node_id = b.sim_bin.node_id
        in_queue = _queued_seqs(b)
        refused_seqs = {seq for seq, _ in b.refused}
        for seq, t in b.created:
            created += 1
            if (node_id, seq) in stored:
                continue
            if seq in in_queue:
                queued += 1
            elif seq in refused_seqs:
                refused += 1
            else:
                lost.append((node_id, seq, t))
    twice = [k for k, n in stored.items() if n > 1]
    return Reckoning(created, len(rows), queued, refused, lost, twice)


def _queued_seqs(b: LoraBin) -> set[int]:
    """Seqs of the reports still in the node's queue in flash."""
    box = Outbox(b.hal.outbox)
    return {int.from_bytes(bytes(payload[2:4]), "big") for _, payload in box.entries}


def node_config(node_id: str, role: str, sf: int, **extra: object) -> Config:
    raw: dict[str, object] = {"id": node_id, "role": role, "transport": "lora",
                              "lora": {"sf": sf}}
    raw.update(extra)
    return Config(raw)


class _Tap:
    """The bridge's serial line, watched: which confirmable uplinks went to
    the gateway and which it has answered (so the simulation knows when to
    wait for it)."""

    def __init__(self, port: RadioPort, clock: VirtualClock) -> None:
        self.port = port
        self.clock = clock
        self.pending: dict[int, int] = {}  # CoAP message id -> virtual ms forwarded
        self._up = bridge_frame.FrameReader()
        self._down = bridge_frame.FrameReader()

    def write(self, data: bytes) -> bool:
        ok = self.port.write(data)
        if ok:
            for body in self._up.feed(data):
                frame = _decode(body)
                if isinstance(frame, bridge_frame.Rx) and len(frame.frame) >= 4 \
                        and frame.frame[0] >> 4 & 3 == coap.CON:
                    self.pending[int.from_bytes(frame.frame[2:4], "big")] = self.clock.now_ms
        return ok

    def read(self) -> bytes | None:
        data = self.port.read()
        if data:
            for body in self._down.feed(data):
                frame = _decode(body)
                # An answer (the gateway's own requests, its profile pushes,
                # carry message ids of its own).
                if isinstance(frame, bridge_frame.Tx) and len(frame.frame) >= 4 \
                        and frame.frame[0] >> 4 & 3 == coap.ACK:
                    self.pending.pop(int.from_bytes(frame.frame[2:4], "big"), None)
        return data or None

    def waiting(self) -> bool:
        now = self.clock.now_ms
        for mid, t in list(self.pending.items()):
            if now - t > PENDING_FORGET_MS:
                del self.pending[mid]
        return bool(self.pending)


def _decode(body: bytes) -> object:
    try:
        return bridge_frame.decode(body)
    except bridge_frame.FrameError:
        return None


class BridgeClock:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def ms(self) -> int:
        return self.clock.now_ms


class LoraSimulation:
    def __init__(self, district: District, radio_path: Path, hours: float, start_unix: int, *,
                 seed: int = 1, report_interval_s: int = 3600, heartbeat_s: int | None = None,
                 sf: int | None = None, gateway: GatewayControl | None = None,
                 faults: Sequence[Fault] = (), answer_wait_s: float = ANSWER_WAIT_S,
                 keys: Mapping[str, tuple[str, str]] | None = None) -> None:
        """keys: node id -> (key, kid), both hex, for the nodes that speak
        OSCORE."""
        for f in faults:
            if f.kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {f.kind!r}: one of {', '.join(FAULT_KINDS)}")
        self.district = district
        self.hours = hours
        self.end_ms = int(hours * 3_600_000)
        self.start_unix = start_unix
        self.report_interval_s = report_interval_s
        self.answer_wait_s = answer_wait_s
        self.gateway = gateway
        self.gateway_up = True
        self.keys = dict(keys or {})
        self.engine = Engine(start_unix)
        self.clock = self.engine.clock
        centre = district.bins[0] if district.bins else district.poles[0]
        self.channel = Channel(self.clock, seed=seed, origin=(centre.lat, centre.lon))
        self.port = RadioPort(radio_path)
        self.tap = _Tap(self.port, self.clock)
        lat, lon = _centre(district)
        self.bridge_lines: list[str] = []
        modems = [SimModem(self.channel, self.channel.add_radio(
            f"bridge-{i}", lat=lat, lon=lon, gain_dbi=GATEWAY_GAIN_DBI, device="bridge"))
            for i in range(len(DEFAULT_RECEIVERS))]
        self.bridge = Bridge(DEFAULT_RECEIVERS, modems, self.tap, BridgeClock(self.clock),
                             self._bridge_log)
        self._by_radio: dict[str, LoraBin | LoraLight] = {}
        self._open: list[Frame] = []
        self._seen = 0
        self._bridge_radio = modems[0].radio
        self._sf = sf
        self.bins = [self._bin(b, seed * 100_000 + i, sf, report_interval_s,
                               heartbeat_s or report_interval_s)
                     for i, b in enumerate(district.bins)]
        self.lights = [self._light(p, seed * 200_000 + i, i + 1, sf)
                       for i, p in enumerate(district.poles)]
        for f in faults:
            self.engine.at(int(f.at_h * 3_600_000), lambda f=f: self._fault(f))  # type: ignore[misc]
        self._started: float | None = None

    # --- building ------------------------------------------------------------
    def _keyed(self, node_id: str) -> dict[str, object]:
        """config.json's key and kid, for a node that has them."""
        kk = self.keys.get(node_id)
        return {} if kk is None else {"key": kk[0], "kid": kk[1]}

    def _bridge_log(self, line: str) -> None:
        self.bridge_lines.append(f"{self.clock.now_ms / 1000:10.1f} {line}")

    def _installed_sf(self, radio: Radio, sf: int | None) -> int:
        """The SF a technician's link check at installation would set: the
        fastest whose demodulation floor the link clears by INSTALL_MARGIN_DB
        (the gateway's data rate takes over from there)."""
        if sf is not None:
            return sf
        snr = self.channel.mean_snr_db(radio, self._bridge_radio)
        for s in range(SF_MIN, SF_MAX + 1):
            if snr - INSTALL_MARGIN_DB >= REQUIRED_SNR_DB10[s] / 10:
                return s
        return SF_MAX

    def _bin(self, b: SimBin, seed: int, sf: int | None, interval_s: int,
             heartbeat_s: int) -> LoraBin:
        radio = self.channel.add_radio(b.node_id, lat=b.lat, lon=b.lon, gain_dbi=BIN_GAIN_DBI)
        cfg = node_config(b.node_id, "bin", self._installed_sf(radio, sf),
                          measure_interval_s=interval_s, heartbeat_s=heartbeat_s,
                          **self._keyed(b.node_id))
        hal = SimHal(self.clock, None, seed)
        hal.fill_sensor = UltrasonicModel(b, self.clock, cfg.empty_mm, cfg.full_mm, hal.rng)
        modem = SimModem(self.channel, radio)
        modem.power_off()  # asleep until its first wake
        dev = LoraBin(b, cfg, hal, modem)
        self._by_radio[b.node_id] = dev
        self.engine.at(int(hal.rng.uniform(0, interval_s * 1000)), lambda: self._wake(dev))
        return dev

    def _light(self, pole: SimPole, seed: int, addr: int, sf: int | None) -> LoraLight:
        radio = self.channel.add_radio(pole.node_id, lat=pole.lat, lon=pole.lon,
                                       gain_dbi=LIGHT_GAIN_DBI)
        sf = self._installed_sf(radio, sf)
        cfg = node_config(pole.node_id, "light", sf, addr=addr, lat=pole.lat, lon=pole.lon,
                          **self._keyed(pole.node_id))
        hal = SimHal(self.clock, None, seed)
        led, presence = RecordingLed(self.clock), PresenceInput()
        hal.led, hal.presence = led, presence
        modem = SimModem(self.channel, radio)
        hal.net = LoraNet(modem, pole.node_id, self.clock, hal.log, sf=sf, listen=True)
        node = LightNode(cfg, hal)
        node.ramp_tick_ms = RAMP_TICK_MS
        dev = LoraLight(pole, cfg, hal, modem, led, presence, node)
        self._by_radio[pole.node_id] = dev
        self._schedule_light(dev)
        return dev


    # --- bin nodes -------------------------------------------------------------
    def _wake(self, dev: LoraBin) -> None:
        # A wake from deep sleep starts the firmware afresh: RTC memory and
        # flash carry over, the modem is configured anew.
        dev.modem.power_on()
        radio = dev.cfg.lora
        assert radio is not None
        dev.hal.net = LoraNet(dev.modem, dev.cfg.node_id, self.clock, dev.hal.log,
                              sf=radio.sf, listen=False)
        node = BinNode(dev.cfg, dev.hal)
        dev.wakes += 1
        send = node.wake()
        if node.report is not None:
            dev.created.append((node.report.seq, node.report.time))
        if not send:
            self._sleep(dev, node)
            return
        dev.node = node
        node.send()
        self._after_bin_poll(dev)

    def _poll_bin(self, dev: LoraBin) -> None:
        if dev.node is not None:
            dev.node.poll()
            self._after_bin_poll(dev)

    def _after_bin_poll(self, dev: LoraBin) -> None:
        node = dev.node
        assert node is not None
        for key in node.acked:
            dev.acked.setdefault(key, self.clock.now_ms)
        node.acked.clear()
        if node.uplink.busy():
            deadline = max(node.next_deadline_ms() or 0, dev.modem.busy_until_ms,
                           self.clock.now_ms + 1)
            if deadline != dev.deadline_ms:
                dev.deadline_ms = deadline
                self.engine.at(deadline, lambda: self._bin_timer(dev, deadline))
            return
        dev.refused += node.refused
        dev.node = None
        self._sleep(dev, node)

    def _bin_timer(self, dev: LoraBin, t_ms: int) -> None:
        if dev.deadline_ms == t_ms:
            dev.deadline_ms = None
            self._poll_bin(dev)

    def _sleep(self, dev: LoraBin, node: BinNode) -> None:
        dev.queued = len(node.outbox)
        sleep_ms = node.sleep()
        dev.hal.net.sleep()
        dev.modem.power_off()
        dev.deadline_ms = None
        self.engine.at(self.clock.now_ms + sleep_ms, lambda: self._wake(dev))

    def _reboot(self, dev: LoraBin) -> None:
        """Power lost in the middle of a send: the frame on the air is cut,
        RTC memory is gone, the queue in flash stays; the node starts again."""
        dev.reboots += 1
        dev.modem.power_off()
        dev.node = None
        dev.deadline_ms = None
        dev.hal.store.data = b""
        self.engine.at(self.clock.now_ms + 5000, lambda: self._wake(dev))

    # --- light nodes -----------------------------------------------------------
    def _schedule_light(self, dev: LoraLight) -> None:
        now = self.clock.now_ms
        deadline = max(dev.node.next_deadline_ms(), now + 1, dev.modem.busy_until_ms)
        if dev.deadline_ms is not None and now < dev.deadline_ms <= deadline:
            return
        dev.deadline_ms = deadline
        self.engine.at(deadline, lambda: self._light_timer(dev, deadline))

    def _light_timer(self, dev: LoraLight, t_ms: int) -> None:
        if dev.deadline_ms == t_ms:
            dev.deadline_ms = None
            self._poll_light(dev)

    def _poll_light(self, dev: LoraLight) -> None:
        if self.clock.now_ms < dev.modem.busy_until_ms:
            self._schedule_light(dev)
            return
        dev.node.poll()
        self._schedule_light(dev)

    def _detect(self, dev: LoraLight) -> None:
        dev.presence.trigger()
        self._poll_light(dev)

    # --- the air and the gateway -----------------------------------------------
    def _frames_ended(self) -> None:
        """Hand what the air delivered to whoever heard it."""
        frames = self.channel.frames
        self._open.extend(frames[self._seen:])
        self._seen = len(frames)
        self.channel.advance()
        now_us = self.clock.now_ms * 1000
        still: list[Frame] = []
        heard: set[str] = set()
        for f in self._open:
            if f.end_us > now_us or not f.done:
                still.append(f)
                continue
            heard.update(name for name, outcome in f.outcomes.items() if outcome == "ok")
        self._open = still
        self.bridge.poll()
        for name in heard:
            dev = self._by_radio.get(name)
            if isinstance(dev, LoraBin):
                self._poll_bin(dev)
            elif isinstance(dev, LoraLight):
                self._poll_light(dev)

    def _wait_for_gateway(self) -> None:
        """While the gateway owes an answer, wait for it in real time (virtual
        time stands still), then put it on the air."""
        if not (self.gateway_up and self.port.plugged):
            return
        deadline = time.monotonic() + self.answer_wait_s
        with selectors.DefaultSelector() as sel:
            fd = self.port.fileno()
            if fd is None:
                return
            sel.register(fd, selectors.EVENT_READ)
            while self.tap.waiting():
                left = deadline - time.monotonic()
                if left <= 0:
                    self.tap.pending.clear()  # not coming: virtual time moves on
                    return
                if sel.select(left):
                    self.bridge.poll()

    def _fault(self, f: Fault) -> None:
        end = self.clock.now_ms + int(f.minutes * 60_000)
        if f.kind in ("gateway down", "gateway crash"):
            if self.gateway is not None:
                if f.kind == "gateway crash":
                    self.gateway.crash()
                else:
                    self.gateway.stop()
            self.gateway_up = False
            self.engine.at(end, self._gateway_back)
        elif f.kind == "radio unplugged":
            self.port.unplug()
            self.engine.at(end, self.port.plug)
        elif f.kind == "interference":
            self.channel.jam(self.clock.now_ms, end)
        else:
            self._reboot_sending(f.count)

    def _gateway_back(self) -> None:
        if self.gateway is not None:
            self.gateway.start()
        self.gateway_up = True

    def _reboot_sending(self, count: int) -> None:
        """Cut the power of `count` bin nodes as they next transmit."""
        awake = [d for d in self.bins if d.node is not None and d.node.uplink.busy()]
        for dev in awake[:count]:
            self._reboot(dev)
        if len(awake) < count:  # try again a little later
            self.engine.at(self.clock.now_ms + 1000,
                     lambda: self._reboot_sending(count - len(awake[:count])))

    # --- the loop --------------------------------------------------------------
    def run_until(self, hours: float) -> None:
        if self._started is None:
            self._started = time.monotonic()
            detections = detection_times(self.district)
            for dev in self.lights:
                for t in detections[dev.pole.node_id]:
                    self.engine.at(int(t * 1000), lambda d=dev: self._detect(d))  # type: ignore[misc]
        until = min(self.end_ms, int(hours * 3_600_000))
        while True:
            self._wait_for_gateway()
            nxt = self.engine.next_ms()
            air = self.channel.next_end_ms()
            if air is not None and (nxt is None or air <= nxt) and air <= until:
                self.clock.advance_to(air)
                self._frames_ended()
                continue
            if nxt is None or nxt > until:
                break
            self.engine.fire()
        self.clock.advance_to(until)

    def run(self) -> LoraOutcome:
        self.run_until(self.hours)
        assert self._started is not None
        return LoraOutcome(self.hours, time.monotonic() - self._started, self.bins,
                           self.lights, self.channel, self.bridge, self.port,
                           self.report_interval_s, self.clock.time())

    def close(self) -> None:
        self.port.close()


def _centre(district: District) -> tuple[float, float]:
    places = [(b.lat, b.lon) for b in district.bins] + [(p.lat, p.lon) for p in district.poles]
    return (sum(p[0] for p in places) / len(places), sum(p[1] for p in places) / len(places))
