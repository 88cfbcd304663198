# When a bin node transmits. It measures at every wake (measure_interval_s)
# but the radio costs far more than a measurement, so it reports only:
#
#   - at power-on (the BOOT report a technician waits for),
#   - as a heartbeat, when heartbeat_s has passed since its last report,
#   - at once when the level crosses the threshold upward, and when a bin
#     reported over its threshold has been emptied (fallen 10 points below
#     it): the two events a crew's route changes on,
#   - at once when the level rose faster than fast_rise_pct_per_h,
#   - at once on an alarm: fire (fire_temp_c, or fire_rise_c_per_h above
#     40 C), the bin tilted past tilt_alarm_deg or moved (its tilt changed by
#     20 degrees between wakes), the lid open at two wakes in a row, the fill
#     sensor failing. An alarm is reported when it begins; a fire at every
#     wake while it lasts.
#
# Why a heartbeat of 4 hours and a fast rise of 5 %/h by default: on four
# simulated weeks of 120 bins (sim/waste.py, which runs this policy) they let
# the gateway's forecast plan within 1.15 times the emptyings of an oracle
# with overflow on under 0.1 % of bin-days, at about 6 reports a day; a
# 5-hour heartbeat gave 1.14 times the oracle's emptyings with half again as
# much overflow, and a fast rise of 25 %/h (only dumping) three times as much.
# 6 reports a day instead of 24; firmware/energy.py has the cost.
#
# The policy remembers what the gateway knows: the last report stored -- or,
# on a node with a queue in flash (firmware/waste/outbox.py), the last report
# queued, since a queued report will arrive (queued()). A report that was
# neither leaves that memory as it was, so an event is reported again at the
# next wake while it lasts. `lost` counts the exchanges in a row that got no
# report stored (heard()): after 3, events wait for the heartbeat, so that a
# node whose gateway is gone does not spend its battery on the radio every
# hour.
#
# Pure logic on a State (kept in RTC memory by firmware/waste/node.py) and the node's
# config; levels are fill bytes (half percent; codec.FILL_UNKNOWN = none).
from firmware.waste import payload as codec

# The policy's figures are written where they are used (a named constant
# costs the node heap):
#   0x3C   the alarm flags: codec.BIN_FLAG_FIRE | TILT | LID_OPEN | SENSOR_FAULT
#   10     points below the threshold that count as emptied
#   40 C   a temperature rate alone means fire only above this: sun on a dark
#          bin can warm it by 20 C in an hour, but not past 40 C
#   20     degrees of change in tilt between wakes that mean the bin was moved
#   3      exchanges in a row without a report stored, after which only
#          heartbeats try


class State:
    """What the policy remembers from one wake to the next."""

    def __init__(self):
        self.last_fill = codec.FILL_UNKNOWN  # level at the last measurement
        self.reported_fill = codec.FILL_UNKNOWN  # level in the last stored report
        self.last_temp = codec.TEMP_UNKNOWN  # whole C at the last measurement
        self.last_tilt = codec.TILT_UNKNOWN  # degrees at the last measurement
        self.reported_alarms = 0  # alarm flags of the last stored report
        self.since_report = 0  # wakes since a report was last sent
        self.lost = 0  # exchanges in a row that got no report stored
        self.lid_was_open = False  # at the last wake


def decide(cfg, st, fill_b, temp_c, tilt_deg, lid_open, booted):
    """Take this wake's measurement: (report flags, whether to report now).
    Updates st with the measurement."""
    per_h = 3600 / cfg.measure_interval_s
    limit = cfg.threshold_pct * 2  # fill bytes; codec.FILL_UNKNOWN (255) is above any
    f = 0
    if fill_b == codec.FILL_UNKNOWN:
        f = codec.BIN_FLAG_SENSOR_FAULT
    else:
        if fill_b >= limit:
            f = codec.BIN_FLAG_THRESHOLD
        if st.last_fill != codec.FILL_UNKNOWN \
                and (fill_b - st.last_fill) / 2 * per_h >= cfg.fast_rise_pct_per_h:
            f |= codec.BIN_FLAG_FAST_RISE
    if temp_c is not None and (temp_c >= cfg.fire_temp_c or (
            temp_c >= 40 and st.last_temp != codec.TEMP_UNKNOWN
            and (temp_c - st.last_temp) * per_h >= cfg.fire_rise_c_per_h)):
        f |= codec.BIN_FLAG_FIRE
    if tilt_deg is not None and (tilt_deg >= cfg.tilt_alarm_deg or (
            st.last_tilt != codec.TILT_UNKNOWN and abs(tilt_deg - st.last_tilt) >= 20)):
        f |= codec.BIN_FLAG_TILT
    if lid_open and st.lid_was_open:
        f |= codec.BIN_FLAG_LID_OPEN
    was_over = limit <= st.reported_fill != codec.FILL_UNKNOWN
    send = booted or (st.since_report + 1) * cfg.measure_interval_s >= cfg.heartbeat_s \
        or st.lost < 3 and (
            f & codec.BIN_FLAG_THRESHOLD and not was_over  # crossed upward
            or was_over and fill_b < limit - 20  # emptied: 10 points below
            or f & (codec.BIN_FLAG_FAST_RISE | codec.BIN_FLAG_FIRE)
            or f & 0x3C & ~st.reported_alarms)  # an alarm begins
    st.last_fill = fill_b  # unknown after a fault: no rate across the gap
    st.last_temp = codec.TEMP_UNKNOWN if temp_c is None else max(-127, min(127, int(temp_c)))
    st.last_tilt = codec.TILT_UNKNOWN if tilt_deg is None else max(0, min(180, int(tilt_deg)))
    st.lid_was_open = bool(lid_open)
    st.since_report = 0 if send else min(0xFFFF, st.since_report + 1)
    return f, bool(send)


def queued(st, fill_b, f):
    """A report (fill byte fill_b, flags f) that the gateway has or will have:
    stored, or in the node's queue in flash."""
    st.reported_fill = fill_b
    st.reported_alarms = f & 0x3C  # the alarm flags


def heard(st, ok):
    """How an exchange with the gateway ended: ok when it answered for good
    (stored or refused), not when it stayed silent or could not store."""
    st.lost = 0 if ok else min(255, st.lost + 1)


def answered(st, stored, fill_b, f):
    """A node without a queue: a report (fill_b, f) was stored, or was lost."""
    if stored:
        queued(st, fill_b, f)
    heard(st, stored)
