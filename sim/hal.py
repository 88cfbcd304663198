"""The simulated hardware layer: what firmware.hal.esp32 is on a real node,
backed by the virtual world and a real UDP socket on loopback."""

from __future__ import annotations

import random
import socket
from collections import deque
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from firmware.net.transport import Transport
from firmware.proto.presence import PRESENCE_SOURCE_PIR
from firmware.waste.measure import SOUND_0C, SOUND_PER_C
from sim.district import SimBin
from sim.engine import VirtualClock


class UdpNet(Transport):
    """A real UDP socket, as a node's Wi-Fi interface would give it. Not
    connected: a light node also takes requests from the gateway's command
    socket and answers whoever asked (`reply`)."""

    def __init__(self, gateway: tuple[str, int]) -> None:
        self.gateway = gateway
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.peer = gateway
        self.sent = 0

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent += 1
        try:
            self.sock.sendto(data, addr)
        except OSError:
            pass  # like a radio: a send into nowhere is simply lost

    # No duty cycle on Wi-Fi, RFC 7252's ACK timeout: Transport's defaults.

    def send(self, data: bytes) -> bool:
        self._send(data, self.gateway)
        return True

    def reply(self, data: bytes) -> None:
        self._send(data, self.peer)

    def recv(self) -> bytes | None:
        try:
            data, self.peer = self.sock.recvfrom(1500)
        except (BlockingIOError, ConnectionRefusedError):
            return None
        return data

    def close(self) -> None:
        self.sock.close()


class RtcMemory:
    def __init__(self) -> None:
        self.data = b""

    def load(self) -> bytes:
        return self.data

    def save(self, data: bytes) -> None:
        if len(data) > 2048:
            raise ValueError("RTC memory holds 2 KiB")
        self.data = bytes(data)


# The air in the simulated bins, C: what the nodes' thermometers read and what
# the simulated ultrasound travels through.
AIR_TEMP_C = 11.0


class UltrasonicModel:
    """A JSN-SR04T over the bin's fill model: echo round trips in microseconds
    at the air's temperature, with a few millimetres of noise, and now and
    then a sample that is no echo at all or a spurious one off the bin's wall
    (what the node's outlier rejection is for)."""

    unit = "us"

    def __init__(self, sim_bin: SimBin, clock: VirtualClock, empty_mm: int, full_mm: int,
                 rng: random.Random, temp_c: float = AIR_TEMP_C,
                 outlier_rate: float = 0.02) -> None:
        self.bin = sim_bin
        self.clock = clock
        self.empty_mm = empty_mm
        self.full_mm = full_mm
        self.rng = rng
        self.temp_c = temp_c
        self.outlier_rate = outlier_rate

    def distance_mm(self) -> float:
        fill = self.bin.fill_at(self.clock.now_ms / 3_600_000)
        return self.empty_mm - fill / 100 * (self.empty_mm - self.full_mm)

    def samples(self, n: int) -> list[int | None]:
        d = self.distance_mm()
        us_per_mm = 2000 / (SOUND_0C + SOUND_PER_C * self.temp_c)
        out: list[int | None] = []
        for _ in range(n):
            r = self.rng.random()
            if r < self.outlier_rate / 2:
                out.append(None)  # no echo within the timeout
            elif r < self.outlier_rate:
                out.append(int(self.rng.uniform(150, d) * us_per_mm))  # off the wall
            else:
                out.append(int(max(20.0, d + self.rng.gauss(0, 4)) * us_per_mm))
        return out


class Constant:
    """A sensor that always reads the same (None: not fitted)."""

    def __init__(self, value: float | None) -> None:
        self.value = value

    def mv(self) -> float | None:
        return self.value

    def celsius(self) -> float | None:
        return self.value

    def degrees(self) -> float | None:
        return self.value


class LidSwitch:
    def __init__(self, is_open: bool = False) -> None:
        self.open = is_open

    def is_open(self) -> bool:
        return self.open


class RecordingLed:
    """Keeps every level change as (virtual ms, light output %), to measure
    the energy the lamp used. The node ramps: during a ramp the simulator
    polls it every `LightNode.ramp_tick_ms`, so a ramp is a staircase here."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.changes: list[tuple[int, float]] = []

    def set_pct(self, pct: float) -> None:
        self.changes.append((self.clock.now_ms, pct))

    def mean_level(self, until_ms: int) -> float:
        """Time-weighted mean level from the first change until `until_ms`."""
        if not self.changes or until_ms <= self.changes[0][0]:
            return 0.0
        total = 0.0
        for (t, level), nxt in zip(self.changes, self.changes[1:] + [(until_ms, 0.0)],
                                   strict=True):
            total += level * (min(nxt[0], until_ms) - t)
        return total / (until_ms - self.changes[0][0])


class PresenceInput:
    """The light node's presence sensor: the runner calls trigger() when
    someone comes into range; the node reads it as hal.presence.triggered()
    (the presence flags, firmware/proto/presence.py) and hal.presence.speed (0.1 m/s)."""

    def __init__(self) -> None:
        self.pending: deque[tuple[int, int]] = deque()
        self.speed = 0

    def trigger(self, flags: int = PRESENCE_SOURCE_PIR, speed_dms: int = 0) -> None:
        """A detection; a radar would give its flags (direction) and speed."""
        self.pending.append((flags, speed_dms))

    def triggered(self) -> int:
        if not self.pending:
            return 0
        flags, self.speed = self.pending.popleft()
        return flags


class FlashStore(RtcMemory):
    """The node's flash (NVS): what it keeps across reboots (the zone profile)."""


class QueueNet(Transport):
    """The node's network interface when the gateway's side runs in-process
    (the night scene): datagrams to and from it, in virtual time."""

    def __init__(self) -> None:
        self.outbox: list[bytes] = []
        self.inbox: deque[bytes] = deque()

    def send(self, data: bytes) -> None:
        self.outbox.append(bytes(data))

    def recv(self) -> bytes | None:
        return self.inbox.popleft() if self.inbox else None



class AesEcb:
    """hal.aes(key) in CPython: the cryptography package's AES in ECB mode,
    one 16-byte block at a time, as cryptolib's on the ESP32."""

    def __init__(self, key: bytes) -> None:
        self._enc = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt(self, block: bytes) -> bytes:
        if len(block) != 16:
            raise ValueError("AES block must be 16 bytes")
        return self._enc.update(bytes(block))


class SimHal:
    def __init__(self, clock: VirtualClock, gateway: tuple[str, int] | None, seed: int) -> None:
        """gateway: where a Wi-Fi node's UDP socket sends; None for a LoRa node,
        whose net (firmware.lora.net.LoraNet over a simulated modem) the
        LoRa simulation gives it at every wake."""
        self.clock = clock
        self.net: Any = UdpNet(gateway) if gateway is not None else None
        self.store = RtcMemory()
        self.rng = random.Random(seed)
        self.battery = Constant(3600)
        self.temperature = Constant(AIR_TEMP_C)
        self.tilt = Constant(0)  # the bins stand upright
        self.lid = LidSwitch()
        self.lines: deque[str] = deque(maxlen=50)
        # Fitted by role, as the real board has either a fill sensor or a
        # lamp and a presence sensor.
        self.fill_sensor: UltrasonicModel | None = None
        self.led: RecordingLed | None = None
        self.presence: PresenceInput | None = None
        self.settings = FlashStore()  # light nodes keep their zone profile here
        self.outbox = FlashStore()  # bin nodes' queue of reports not yet acknowledged
        self.flash: dict[str, FlashStore] = {}  # hal.flash_store(name): NVS
        # No ambient light sensor: light nodes take night from the sun's
        # times for their place (firmware/lighting/astro.py) on the virtual clock.
        self.ambient = None

    def random_bits(self, n: int) -> int:
        return self.rng.getrandbits(n)

    def flash_store(self, name: str) -> FlashStore:
        """The node's flash under `name` (OSCORE's bounds), kept across wakes
        and power loss as NVS is."""
        return self.flash.setdefault(name, FlashStore())

    def aes(self, key: bytes) -> AesEcb:
        return AesEcb(key)

    def log(self, line: str) -> None:
        self.lines.append(f"{self.clock.now_ms / 1000:10.1f} {line}")
