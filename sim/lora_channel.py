"""The air between the simulated radios: a virtual LoRa channel in virtual time.

Radios stand at points on a local flat plane (metres; district places in
lat/lon are projected around an origin). A frame occupies the air for its
Semtech airtime from the moment it starts; when it ends, the channel decides
for every radio that was listening on its frequency, spreading factor,
bandwidth, IQ polarity and sync word whether it was heard: the link budget of
a log-distance path loss with per-link shadowing against the thermal noise
floor, half duplex, interference bursts, and collisions with frames on the
same frequency and spreading factor unless one is at least 6 dB stronger
(capture). Receivers poll for what they heard. Everything follows from the
seed: the shadowing of a link and the fading of a frame at a receiver are
drawn from generators keyed by names and frame numbers, never from the order
in which radios happen to poll.

The channel also keeps every transmission, for the duty-cycle audit: an
independent check of every sliding hour, per transmitter and sub-band.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from firmware.lora.airtime import airtime_us
from firmware.lora.plan import (
    BW_HZ,
    CR_INDEX,
    MAX_FRAME,
    PREAMBLE,
    REQUIRED_SNR_DB10,
    duty_divisor,
    sub_band,
)
from sim.district import METRES_PER_DEGREE

WINDOW_MS = 3_600_000  # the regulation's duty-cycle window: one hour
PRIVATE_SYNCWORD = 0x12  # both chips' reset value (LoRaWAN public networks use 0x34)


class Clock(Protocol):
    """What the channel reads the time from (sim.engine.VirtualClock)."""

    now_ms: int


@dataclass(frozen=True)
class RadioModel:
    """The propagation and receiver numbers (sources in /tmp/spec/sim-lora.md).

    Path loss: PL(d) = pl_d0_db + 10 * exponent * log10(d / 1 m), the free-space
    loss at 1 m for 868 MHz (31.2 dB) and an exponent for urban streets with
    antennas at street level; log-normal shadowing per link, fixed for the
    link and the same both ways; a small per-frame fading on top."""

    pl_d0_db: float = 31.5
    exponent: float = 3.2
    shadowing_db: float = 6.0
    shadow_clip_db: float = 15.0  # 2.5 sigma: no link is a freak
    fading_db: float = 1.0
    noise_figure_db: float = 6.0
    capture_db: float = 6.0
    min_distance_m: float = 1.0

    def path_loss_db(self, distance_m: float) -> float:
        d = max(distance_m, self.min_distance_m)
        return self.pl_d0_db + 10 * self.exponent * math.log10(d)

    def noise_dbm(self, bw_hz: int) -> float:
        """Thermal noise in the bandwidth plus the receiver's noise figure:
        -117 dBm at 125 kHz with a 6 dB noise figure."""
        return -174 + 10 * math.log10(bw_hz) + self.noise_figure_db


class RxKey(NamedTuple):
    """What a receiver is tuned to; a frame is heard only on an exact match."""

    freq_khz: float
    sf: int
    bw_hz: int = BW_HZ
    invert_iq: bool = False
    syncword: int = PRIVATE_SYNCWORD


class Radio:
    """One radio (one modem) on the channel. `device` groups the modems of
    one box (a bridge with several modules) for the duty-cycle audit."""

    def __init__(self, name: str, index: int, x_m: float, y_m: float, gain_dbi: float,
                 device: str) -> None:
        self.name = name
        self.index = index
        self.x_m = x_m
        self.y_m = y_m
        self.gain_dbi = gain_dbi
        self.device = device
        # (from us, tuned to or None): the listening history still needed.
        self.history: list[tuple[int, RxKey | None]] = [(0, None)]
        self.inbox: list[Reception] = []

    def distance_m(self, other: Radio) -> float:
        return math.hypot(self.x_m - other.x_m, self.y_m - other.y_m)

    def __repr__(self) -> str:
        return f"Radio({self.name!r}, x={self.x_m:.0f} m, y={self.y_m:.0f} m)"


@dataclass(eq=False)
class Frame:
    id: int
    sender: Radio
    start_us: int
    end_us: int
    freq_khz: float
    sf: int
    bw_hz: int
    invert_iq: bool
    syncword: int
    payload: bytes
    power_dbm: float
    cut: bool = False  # the sender stopped mid-frame (power lost): nobody decodes it
    done: bool = False  # outcomes decided
    outcomes: dict[str, str] = field(default_factory=dict)  # receiver name -> outcome

    @property
    def key(self) -> RxKey:
        return RxKey(self.freq_khz, self.sf, self.bw_hz, self.invert_iq, self.syncword)

    @property
    def start_ms(self) -> float:
        return self.start_us / 1000

    @property
    def end_ms(self) -> float:
        return self.end_us / 1000

    @property
    def airtime_us(self) -> int:
        return self.end_us - self.start_us

    def same_channel(self, other: Frame) -> bool:
        """Frames that interfere: same frequency, spreading factor and bandwidth
        (IQ polarity does not keep energy out; other SFs are taken as orthogonal)."""
        return (self.freq_khz == other.freq_khz and self.sf == other.sf
                and self.bw_hz == other.bw_hz)


@dataclass(frozen=True)
class Reception:
    frame: Frame
    rssi_dbm: float
    snr_db: float


@dataclass(frozen=True)
class Jam:
    start_us: int
    end_us: int
    freq_khz: float | None  # None: every frequency


# Outcomes a frame can have at a receiver that was tuned to it.
OK = "ok"
CUT = "cut"
HALF_DUPLEX = "half_duplex"
NOT_LISTENING = "not_listening"  # tuned for part of the frame only
JAMMED = "jammed"
WEAK = "weak"
COLLISION = "collision"


@dataclass(frozen=True)
class DutyViolation:
    device: str
    sub_band: int | None  # None: a frequency outside the radio plan
    window_start_ms: float
    used_ms: float
    limit_ms: float


@dataclass
class DutyAudit:
    worst: dict[str, float]  # device -> highest share of its budget in any window, any band
    by_band: dict[tuple[str, int], float]
    violations: list[DutyViolation]
    transmissions: int

    @property
    def ok(self) -> bool:
        return not self.violations


class Channel:
    def __init__(self, clock: Clock, seed: int = 1, model: RadioModel | None = None,
                 origin: tuple[float, float] | None = None) -> None:
        """origin: (lat, lon) of the local plane's (0, 0); by default the
        first place given in lat/lon."""
        self.clock = clock
        self.seed = seed
        self.model = model or RadioModel()
        self.origin = origin
        self.radios: dict[str, Radio] = {}
        self.frames: list[Frame] = []  # every transmission, by start
        self._starts: list[tuple[int, int]] = []  # (start_us, id), parallel to frames
        self._pending: list[tuple[int, int, Frame]] = []  # heap by end
        self._max_airtime_us = 0
        self._listeners: dict[RxKey, dict[int, Radio]] = {}
        self._links: dict[tuple[str, str], float] = {}
        self.jams: list[Jam] = []
        self.stats: Counter[str] = Counter()
        self._ids = 0

    # --- places ------------------------------------------------------------
    def point(self, lat: float, lon: float) -> tuple[float, float]:
        """(x east, y north) in metres of a place, on a flat plane around the origin."""
        if self.origin is None:
            self.origin = (lat, lon)
        lat0, lon0 = self.origin
        return ((lon - lon0) * METRES_PER_DEGREE * math.cos(math.radians(lat0)),
                (lat - lat0) * METRES_PER_DEGREE)

    def add_radio(self, name: str, x_m: float = 0.0, y_m: float = 0.0, *,
                  lat: float | None = None, lon: float | None = None,
                  gain_dbi: float = 0.0, device: str | None = None) -> Radio:
        """A radio at (x_m, y_m), or at (lat, lon) when given. gain_dbi: its
        antenna gain less cable and enclosure losses."""
        if name in self.radios:
            raise ValueError(f"a radio named {name!r} is already on the channel")
        if (lat is None) != (lon is None):
            raise ValueError("give both lat and lon, or neither")
        if lat is not None and lon is not None:
            x_m, y_m = self.point(lat, lon)
        radio = Radio(name, len(self.radios), x_m, y_m, gain_dbi, device or name)
        self.radios[name] = radio
        return radio

    # --- link budget -------------------------------------------------------
    def _shadow_db(self, a: Radio, b: Radio) -> float:
        # Per device, not per modem: a bridge's modems share one antenna, so
        # what stands between it and a node shadows them all alike.
        first, second = sorted((a.device, b.device))
        pair = (first, second)
        shadow = self._links.get(pair)
        if shadow is None:
            rng = random.Random(f"{self.seed}/{first}/{second}")
            m = self.model
            shadow = max(-m.shadow_clip_db, min(m.shadow_clip_db, rng.gauss(0, m.shadowing_db)))
            self._links[pair] = shadow
        return shadow

    def mean_rssi_dbm(self, tx: Radio, rx: Radio, power_dbm: float = 14.0) -> float:
        """The link's RSSI without per-frame fading."""
        return (power_dbm + tx.gain_dbi + rx.gain_dbi
                - self.model.path_loss_db(tx.distance_m(rx)) - self._shadow_db(tx, rx))

    def mean_snr_db(self, tx: Radio, rx: Radio, power_dbm: float = 14.0,
                    bw_hz: int = BW_HZ) -> float:
        return self.mean_rssi_dbm(tx, rx, power_dbm) - self.model.noise_dbm(bw_hz)

    def _rssi(self, frame: Frame, rx: Radio) -> float:
        rssi = self.mean_rssi_dbm(frame.sender, rx, frame.power_dbm)
        if self.model.fading_db:
            rng = random.Random((self.seed * 1_000_003 + frame.id) * 1_048_573 + rx.index)
            rssi += rng.gauss(0, self.model.fading_db)
        return rssi

    # --- transmitting and listening ------------------------------------------
    @property
    def now_us(self) -> int:
        return self.clock.now_ms * 1000

    def transmit(self, radio: Radio, payload: bytes, freq_khz: float, sf: int, *,
                 invert_iq: bool = False, power_dbm: float = 14.0,
                 start_ms: int | None = None, start_us: int | None = None,
                 bw_hz: int = BW_HZ, cr: int = CR_INDEX, preamble: int = PREAMBLE,
                 syncword: int = PRIVATE_SYNCWORD, crc: bool = True) -> Frame:
        """Put a frame on the air from start (default now) for its airtime.
        cr is the coding-rate index (1 = 4/5)."""
        if sf not in REQUIRED_SNR_DB10:
            raise ValueError(f"spreading factor {sf} is not modelled (7..12)")
        if len(payload) > MAX_FRAME:
            raise ValueError(f"a LoRa frame holds at most {MAX_FRAME} bytes, not {len(payload)}")
        if start_us is None:
            start_us = self.now_us if start_ms is None else start_ms * 1000
        if start_us < self.now_us:
            raise ValueError("a frame cannot start in the past")
        self.advance()
        end_us = start_us + airtime_us(len(payload), sf, bw_hz, cr, preamble, True, crc)
        self._ids += 1
        frame = Frame(self._ids, radio, start_us, end_us, freq_khz, sf, bw_hz, invert_iq,
                      syncword, bytes(payload), power_dbm)
        at = bisect.bisect_right(self._starts, (start_us, frame.id))
        self._starts.insert(at, (start_us, frame.id))
        self.frames.insert(at, frame)
        heapq.heappush(self._pending, (end_us, frame.id, frame))
        self._max_airtime_us = max(self._max_airtime_us, end_us - start_us)
        return frame

    def cut(self, frame: Frame, at_us: int | None = None) -> None:
        """The sender lost power at `at_us` (default now) while sending: the
        frame is lost, and took the air only until then."""
        at_us = self.now_us if at_us is None else at_us
        if frame.done or at_us >= frame.end_us:
            return
        frame.cut = True
        frame.end_us = max(frame.start_us, at_us)
        heapq.heappush(self._pending, (frame.end_us, frame.id, frame))

    def listen(self, radio: Radio, key: RxKey | None, at_us: int | None = None) -> None:
        """Tune `radio` to `key` (None: not receiving) from `at_us` (default
        now). A change replaces any planned for later (a resume after a send)."""
        self.advance()
        at_us = self.now_us if at_us is None else at_us
        history = radio.history
        while history and history[-1][0] > at_us:
            history.pop()
        if history and history[-1][0] == at_us:
            history[-1] = (at_us, key)
        elif not history or history[-1][1] != key:
            history.append((at_us, key))
        if key is not None:
            self._listeners.setdefault(key, {})[radio.index] = radio
        # Every frame still undecided ends after now, so starts after this.
        _prune(radio, self.now_us - self._max_airtime_us)

    def jam(self, start_ms: int, end_ms: int, freq_khz: float | None = None) -> None:
        """A burst of interference: every frame overlapping it (on `freq_khz`,
        or on every frequency) is lost. Declare it before those frames end."""
        self.jams.append(Jam(start_ms * 1000, end_ms * 1000, freq_khz))

    def poll(self, radio: Radio) -> list[Reception]:
        """What `radio` has heard since its last poll, by end of frame."""
        self.advance()
        got, radio.inbox = radio.inbox, []
        return got

    def next_end_ms(self) -> int | None:
        """When the next frame on the air ends (rounded up): a receiver polled
        then hears it as soon as a real one would."""
        while self._pending and self._pending[0][2].done:
            heapq.heappop(self._pending)
        if not self._pending:
            return None
        return -(-self._pending[0][0] // 1000)

    # --- deciding who heard what ---------------------------------------------
    def advance(self) -> None:
        """Decide every frame that has ended by now."""
        now_us = self.now_us
        while self._pending and self._pending[0][0] <= now_us:
            end_us, _, frame = heapq.heappop(self._pending)
            if frame.done or end_us != frame.end_us:
                continue  # already decided, or superseded by a cut
            self._decide(frame)

    def _horizon_us(self) -> int:
        """No undecided frame starts before this: older history is not needed."""
        starts = [f.start_us for _, _, f in self._pending if not f.done]
        return min(starts, default=self.now_us)

    def _overlapping(self, frame: Frame) -> list[Frame]:
        lo = bisect.bisect_right(self._starts, (frame.start_us - self._max_airtime_us, 1 << 62))
        hi = bisect.bisect_left(self._starts, (frame.end_us, 0))
        return [g for g in self.frames[lo:hi]
                if g is not frame and g.end_us > frame.start_us and g.start_us < frame.end_us]

    @staticmethod
    def _tuned(radio: Radio, frame: Frame) -> str | None:
        """'all' if tuned to the frame for all of it, 'part' for part, else None."""
        key = frame.key
        history = radio.history
        i = bisect.bisect_right(history, frame.start_us, key=lambda h: h[0]) - 1
        at_start = i >= 0 and history[i][1] == key
        during = [k for t, k in history[i + 1:] if t < frame.end_us]
        if at_start and all(k == key for k in during):
            return "all"
        if at_start or key in during:
            return "part"
        return None

    def _decide(self, frame: Frame) -> None:
        frame.done = True
        horizon = min(self._horizon_us(), frame.start_us)
        listeners = self._listeners.get(frame.key, {})
        overlapping = self._overlapping(frame)
        interferers = [g for g in overlapping if frame.same_channel(g)]
        jammed = any(j.start_us < frame.end_us and j.end_us > frame.start_us
                     and (j.freq_khz is None or j.freq_khz == frame.freq_khz)
                     for j in self.jams)
        for index in sorted(listeners):
            radio = listeners[index]
            _prune(radio, horizon)
            if all(k != frame.key for _, k in radio.history):
                del listeners[index]
            if radio is frame.sender:
                continue
            tuned = self._tuned(radio, frame)
            if tuned is None:
                continue
            outcome, reception = self._outcome(frame, radio, tuned, jammed, overlapping,
                                               interferers)
            frame.outcomes[radio.name] = outcome
            self.stats[outcome] += 1
            if reception is not None:
                radio.inbox.append(reception)

    def _outcome(self, frame: Frame, radio: Radio, tuned: str, jammed: bool,
                 overlapping: list[Frame],
                 interferers: list[Frame]) -> tuple[str, Reception | None]:
        if frame.cut:
            return CUT, None
        if any(g.sender is radio for g in overlapping):
            return HALF_DUPLEX, None
        if tuned != "all":
            return NOT_LISTENING, None
        if jammed:
            return JAMMED, None
        rssi = self._rssi(frame, radio)
        snr = rssi - self.model.noise_dbm(frame.bw_hz)
        if snr * 10 < REQUIRED_SNR_DB10[frame.sf]:
            return WEAK, None
        for g in interferers:
            if rssi - self._rssi(g, radio) < self.model.capture_db:
                return COLLISION, None
        return OK, Reception(frame, rssi, snr)

    # --- the duty-cycle audit ----------------------------------------------
    def duty_audit(self, window_ms: int = WINDOW_MS) -> DutyAudit:
        """Every transmitter's airtime per sub-band in every sliding window.

        The airtime inside a window is piecewise linear in the window's
        position and peaks only when the window starts at a frame's start or
        ends at a frame's end, so those are the windows checked."""
        window_us = window_ms * 1000
        groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
        divisors: dict[tuple[str, int], int] = {}
        violations: list[DutyViolation] = []
        for f in self.frames:
            try:
                band = sub_band(f.freq_khz)
            except ValueError:
                violations.append(DutyViolation(f.sender.device, None, f.start_ms,
                                                f.airtime_us / 1000, 0.0))
                continue
            groups.setdefault((f.sender.device, band), []).append((f.start_us, f.end_us))
            divisors[(f.sender.device, band)] = duty_divisor(f.freq_khz)
        by_band: dict[tuple[str, int], float] = {}
        worst: dict[str, float] = {f.sender.device: 0.0 for f in self.frames}
        for (device, band), spans in sorted(groups.items()):
            limit_us = window_us // divisors[(device, band)]
            spans.sort()
            ratio = 0.0
            for w, used in _windows(spans, window_us):
                ratio = max(ratio, used / limit_us)
                if used > limit_us:
                    violations.append(DutyViolation(device, band, w / 1000, used / 1000,
                                                    limit_us / 1000))
            by_band[(device, band)] = ratio
            worst[device] = max(worst[device], ratio)
        return DutyAudit(worst, by_band, violations, len(self.frames))


def _prune(radio: Radio, horizon_us: int) -> None:
    history = radio.history
    drop = 0
    while drop + 1 < len(history) and history[drop + 1][0] <= horizon_us:
        drop += 1
    if drop:
        del history[:drop]


def _windows(spans: list[tuple[int, int]], window_us: int) -> list[tuple[int, int]]:
    """(window start, airtime inside) for every window starting at a span's
    start or ending at a span's end. spans sorted by start."""
    starts = [s for s, _ in spans]
    prefix = [0]
    for s, e in spans:
        prefix.append(prefix[-1] + e - s)
    longest = max(e - s for s, e in spans)
    out: dict[int, int] = {}
    for s, e in spans:
        for a in (s, e - window_us):
            if a in out:
                continue
            b = a + window_us
            lo = bisect.bisect_left(starts, a)
            hi = bisect.bisect_left(starts, b)
            used = prefix[hi] - prefix[lo]
            i = hi - 1
            while i >= lo and starts[i] > b - longest:
                used -= max(0, spans[i][1] - b)
                i -= 1
            i = lo - 1
            while i >= 0 and starts[i] > a - longest:
                used += max(0, min(spans[i][1], b) - a)
                i -= 1
            out[a] = used
    return sorted(out.items())
