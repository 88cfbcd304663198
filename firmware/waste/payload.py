# A bin node's report: the single definition of its wire format, encoded by
# the node and decoded by the gateway. docs/protocol.md documents every byte;
# keep the two in step. A fixed-size big-endian record that starts with the
# version byte (firmware/proto/payload.py).
import struct

from firmware.proto.payload import VERSION, DecodeError, check_size

# --- bin report: 12 bytes -------------------------------------------------
BIN_REPORT_FORMAT = ">BBHIBbBB"
BIN_REPORT_SIZE = 12

BIN_FLAG_THRESHOLD = 0x01  # level at or above the node's configured threshold
BIN_FLAG_FAST_RISE = 0x02  # level rose unusually fast since the last report
BIN_FLAG_FIRE = 0x04  # temperature rise that looks like a fire
BIN_FLAG_TILT = 0x08  # bin tilted or moved
BIN_FLAG_LID_OPEN = 0x10  # lid left open
BIN_FLAG_SENSOR_FAULT = 0x20  # no valid fill reading this time
BIN_FLAG_BOOT = 0x40  # first report after power-on (counters were reset)
BIN_FLAG_QUEUE_DROPPED = 0x80  # the node's queue overflowed: older reports were dropped
BIN_FLAGS_KNOWN = 0xFF

FILL_UNKNOWN = 0xFF  # fill byte when the sensor gave no valid reading
FILL_MAX = 200  # fill is carried in half-percent steps: 200 = 100 %
TEMP_UNKNOWN = -128
BATTERY_UNKNOWN = 0
BATTERY_BASE_MV = 2000
BATTERY_STEP_MV = 10
TILT_UNKNOWN = 0xFF
TILT_MAX = 180

def fill_to_byte(fill_pct):
    """Fill level in percent (or None) to its wire byte."""
    if fill_pct is None:
        return FILL_UNKNOWN
    if fill_pct < 0:
        fill_pct = 0
    elif fill_pct > 100:
        fill_pct = 100
    return int(fill_pct * 2 + 0.5)


def battery_to_byte(mv):
    if mv is None or mv <= 0:
        return BATTERY_UNKNOWN
    b = (mv - BATTERY_BASE_MV + BATTERY_STEP_MV // 2) // BATTERY_STEP_MV
    if b < 1:
        return 1
    if b > 255:
        return 255
    return b


class BinReport:
    """One measurement of a bin, as a node reports it."""

    def __init__(self, seq, time, fill_pct, temp_c=None, battery_mv=None,
                 tilt_deg=None, flags=0):
        self.seq = seq
        self.time = time  # unix seconds when measured; 0 when the node's clock is unset
        self.fill_pct = fill_pct  # None when the sensor gave no valid reading
        self.temp_c = temp_c
        self.battery_mv = battery_mv
        self.tilt_deg = tilt_deg
        self.flags = flags

    def __eq__(self, other):
        return isinstance(other, BinReport) and self.as_tuple() == other.as_tuple()

    def as_tuple(self):
        return (self.seq, self.time, self.fill_pct, self.temp_c,
                self.battery_mv, self.tilt_deg, self.flags)

    def __repr__(self):
        return "BinReport(seq=%r, time=%r, fill_pct=%r, temp_c=%r, battery_mv=%r, " \
            "tilt_deg=%r, flags=%r)" % self.as_tuple()


def encode_bin_report(r):
    if not 0 <= r.seq <= 0xFFFF:
        raise ValueError("seq out of range: %r" % r.seq)
    if not 0 <= r.time <= 0xFFFFFFFF:
        raise ValueError("time out of range: %r" % r.time)
    if r.flags & ~BIN_FLAGS_KNOWN:
        raise ValueError("unknown flag bits: 0x%02x" % r.flags)
    # The sensor-fault flag is derived from the reading, never taken as given,
    # so that an encoded report always decodes.
    fill = fill_to_byte(r.fill_pct)
    flags = r.flags & ~BIN_FLAG_SENSOR_FAULT
    if fill == FILL_UNKNOWN:
        flags |= BIN_FLAG_SENSOR_FAULT
    if r.temp_c is None:
        temp = TEMP_UNKNOWN
    else:
        temp = min(127, max(-127, int(r.temp_c)))
    tilt = TILT_UNKNOWN if r.tilt_deg is None else min(TILT_MAX, max(0, int(r.tilt_deg)))
    return struct.pack(BIN_REPORT_FORMAT, VERSION, flags, r.seq, r.time, fill,
                       temp, battery_to_byte(r.battery_mv), tilt)


def decode_bin_report(data):
    check_size(data, BIN_REPORT_SIZE, "bin report")
    _, flags, seq, t, fill, temp, batt, tilt = struct.unpack(BIN_REPORT_FORMAT, data)
    if flags & ~BIN_FLAGS_KNOWN:
        raise DecodeError("bin report has reserved flag bits set: 0x%02x" % flags)
    if fill == FILL_UNKNOWN:
        if not flags & BIN_FLAG_SENSOR_FAULT:
            raise DecodeError("bin report has no fill reading but no sensor-fault flag")
        fill_pct = None
    elif fill > FILL_MAX:
        raise DecodeError("bin report fill byte %d is above %d (100 %%)" % (fill, FILL_MAX))
    elif flags & BIN_FLAG_SENSOR_FAULT:
        raise DecodeError("bin report has a fill reading and a sensor-fault flag")
    else:
        fill_pct = fill / 2
    if tilt != TILT_UNKNOWN and tilt > TILT_MAX:
        raise DecodeError("bin report tilt %d is above %d degrees" % (tilt, TILT_MAX))
    return BinReport(
        seq, t, fill_pct,
        None if temp == TEMP_UNKNOWN else temp,
        None if batt == BATTERY_UNKNOWN else BATTERY_BASE_MV + batt * BATTERY_STEP_MV,
        None if tilt == TILT_UNKNOWN else tilt,
        flags,
    )
