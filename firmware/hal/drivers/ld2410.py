# A 24 GHz presence radar of the HLK-LD2410 class on a UART (256000 baud,
# 8N1), from the module's serial protocol description. The module reports
# about ten times a second, unasked, in frames:
#
#   F4 F3 F2 F1 | length (u16, little-endian) | body | F8 F7 F6 F5
#
# body: data type (0x02 basic, 0x01 engineering), 0xAA, the target data,
# 0x55, 0x00 (check). Target data, multi-byte fields little-endian:
#
#   state (u8: 0 none, bit 0 moving target, bit 1 still target),
#   moving distance (u16 cm), moving energy (u8 0..100),
#   still distance (u16 cm), still energy (u8), detection distance (u16 cm)
#
# and in engineering mode then: last moving gate M (u8), last still gate S
# (u8), moving energy of gates 0..M (M+1 x u8), still energy of gates 0..S,
# and a few bytes of further information. A gate is 0.75 m of distance.
#
# Parser: bytes in, reports out; a corrupt frame raises FrameError and the
# parser looks for the next header. Radar: the driver; applies the node's own
# per-gate energy thresholds and estimates the approach speed from successive
# moving-target distances.
import struct

from firmware.proto.presence import PRESENCE_DIR_DOWN, PRESENCE_DIR_UP, PRESENCE_SOURCE_RADAR

HEAD = b"\xf4\xf3\xf2\xf1"
TAIL = b"\xf8\xf7\xf6\xf5"
MAX_BODY = 64  # an engineering frame of 9 gates is 35
GATES = 9
GATE_CM = 75
# The module's factory sensitivities, as the node's own thresholds (energy
# 0..100 a target needs at each gate to count).
MOVE_THRESHOLDS = (50, 50, 40, 30, 20, 15, 15, 15, 15)
STILL_THRESHOLDS = (0, 0, 40, 40, 30, 30, 20, 20, 20)


class FrameError(ValueError):
    """A frame that is not a valid report; it is dropped."""


class Report:
    def __init__(self, state, move_cm, move_energy, still_cm, still_energy, detect_cm,
                 move_gates=None, still_gates=None):
        self.state = state
        self.move_cm = move_cm
        self.move_energy = move_energy
        self.still_cm = still_cm
        self.still_energy = still_energy
        self.detect_cm = detect_cm
        self.move_gates = move_gates  # engineering mode: energy per gate
        self.still_gates = still_gates

    def as_tuple(self):
        return (self.state, self.move_cm, self.move_energy, self.still_cm, self.still_energy,
                self.detect_cm, self.move_gates, self.still_gates)

    def __eq__(self, other):
        return isinstance(other, Report) and self.as_tuple() == other.as_tuple()

    def __repr__(self):
        return "Report%r" % (self.as_tuple(),)


def decode_body(b):
    """The body of one frame (data type to check byte) as a Report."""
    n = len(b)
    if n < 13 or b[1] != 0xAA or b[n - 2] != 0x55 or b[n - 1] != 0x00:
        raise FrameError("not a target report")
    state, mc, me, sc, se, dc = struct.unpack("<BHBHBH", b[2:11])
    if state > 3:
        raise FrameError("target state %d" % state)
    if b[0] == 0x02 and n == 13:
        return Report(state, mc, me, sc, se, dc)
    if b[0] == 0x01 and n >= 17:
        m, s = b[11], b[12]
        extra = n - 17 - m - s
        if m < GATES and s < GATES and 0 <= extra <= 4:
            return Report(state, mc, me, sc, se, dc, bytes(b[13:14 + m]),
                          bytes(b[14 + m:15 + m + s]))
    raise FrameError("report type 0x%02x of %d bytes" % (b[0], n))


class Parser:
    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        if len(self.buf) > 4 * MAX_BODY:  # nobody reads: keep the newest
            self.buf = self.buf[-2 * MAX_BODY:]

    def next(self):
        """The next Report; None until a whole frame is in. Raises FrameError
        for a corrupt frame and then resumes just after its header."""
        buf = self.buf
        i = buf.find(HEAD)
        if i < 0:
            self.buf = buf[-3:]  # a header may be starting
            return None
        buf = self.buf = buf[i:]
        if len(buf) < 6:
            return None
        length = buf[4] | (buf[5] << 8)
        if length > MAX_BODY:
            self.buf = buf[1:]
            raise FrameError("frame length %d" % length)
        end = 6 + length
        if len(buf) < end + 4:
            return None
        try:
            if buf[end:end + 4] != TAIL:
                raise FrameError("no frame tail")
            report = decode_body(buf[6:end])
        except FrameError:
            self.buf = buf[1:]
            raise
        self.buf = buf[end + 4:]
        return report


def _gate(cm):
    return min(GATES - 1, cm // GATE_CM)


class Radar:
    """hal.presence for an LD2410: triggered() gives the presence flags
    (radar source, direction along the street) once per detection and again
    every retrigger time while someone is there; `speed` is the approach
    speed in 0.1 m/s (0: not measured)."""

    def __init__(self, uart, clock, move_thr=MOVE_THRESHOLDS, still_thr=STILL_THRESHOLDS,
                 faces=0, retrigger_ms=5000):
        self.uart = uart  # machine.UART or anything with read() -> bytes | None
        self.clock = clock
        self.move_thr = move_thr
        self.still_thr = still_thr
        # Which way along the street the radar looks: 1 towards higher pole
        # numbers, -1 lower, 0 unknown (no direction is reported).
        self.faces = faces
        self.retrigger_ms = retrigger_ms
        self.parser = Parser()
        self.errors = 0
        self.fired = None  # when a detection was last reported
        self.ref = None  # (ms, cm) of the moving target, for the speed
        self.seen_ms = None  # when a moving target was last seen
        self.v = None  # approach speed, cm/s (negative: moving away)
        self.speed = 0

    def triggered(self):
        data = self.uart.read()
        if data:
            self.parser.feed(data)
        hit = 0
        while True:
            try:
                r = self.parser.next()
            except FrameError:
                self.errors += 1
                continue
            if r is None:
                return hit
            hit |= self.update(r, self.clock.ms())

    def _counts(self, gates, energy, cm, thr):
        if gates is not None:  # engineering mode: any gate over its threshold
            for g in range(len(gates)):
                if gates[g] >= thr[g] and gates[g]:
                    return True
            return False
        return energy >= thr[_gate(cm)] and energy > 0

    def update(self, r, now):
        """Take one report; the presence flags if it is a detection, else 0."""
        moving = r.state & 1 and self._counts(r.move_gates, r.move_energy, r.move_cm,
                                              self.move_thr)
        still = r.state & 2 and self._counts(r.still_gates, r.still_energy, r.still_cm,
                                             self.still_thr)
        if moving:
            self._track(r.move_cm, now)
        elif self.seen_ms is None or now - self.seen_ms > 1000:
            self.ref = self.v = None  # the track is lost
            self.speed = 0
        if not (moving or still):
            self.fired = None
            return 0
        if self.fired is not None and now - self.fired < self.retrigger_ms:
            return 0
        self.fired = now
        flags = PRESENCE_SOURCE_RADAR
        v = self.v
        if v is not None and self.faces and (v >= 20 or v <= -20):
            # Approaching a radar that looks up the street: moving down.
            flags |= PRESENCE_DIR_DOWN if (v > 0) == (self.faces > 0) else PRESENCE_DIR_UP
        return flags

    def _track(self, cm, now):
        self.seen_ms = now
        if self.ref is None:
            self.ref = (now, cm)
            return
        t0, d0 = self.ref
        if now - t0 < 300:  # distances 0.3 s apart or more: less noise
            return
        v = (d0 - cm) * 1000 // (now - t0)
        self.v = v if self.v is None else (self.v + v) // 2
        self.ref = (now, cm)
        self.speed = min(255, abs(self.v) // 10)
