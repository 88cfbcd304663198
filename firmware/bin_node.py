# A bin node: wake, measure how full the bin is, decide by its report policy
# whether to tell the gateway, report as a confirmable CoAP POST if so, sleep.
# On an ESP32 the node is re-created at every wake from deep sleep, so
# everything it must remember lives in `hal.store` (RTC memory).
import struct

from firmware import codec, measure, report_policy
from firmware.messaging import BIN_PATH, Uplink

# RTC memory, 14 bytes (docs/protocol.md, "Node memory across deep sleep"):
# layout tag (u8), seq (u16), CoAP message id (u16), last fill byte (u8),
# last stored report's fill byte (u8), last temperature (i8), last tilt (u8),
# alarm flags of the last stored report (u8), wakes since the last report
# (u16), reports not stored in a row (u8), bits (u8: 0x01 lid open last wake).
_STATE = ">BHHBBbBBHBB"
# The layout tag changes whenever _STATE does, so that new firmware never
# misreads what an older one left in RTC memory (it starts afresh instead).
_LAYOUT = 0xB2


class BinNode:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        st = report_policy.State()
        saved = hal.store.load()
        mid = None
        if len(saved) == struct.calcsize(_STATE) and saved[0] == _LAYOUT:
            (_, self.seq, mid, st.last_fill, st.reported_fill, st.last_temp, st.last_tilt,
             st.reported_alarms, st.since_report, st.lost, bits) = struct.unpack(_STATE, saved)
            st.lid_was_open = bool(bits & 1)
            self.booted = False
        else:
            # Power-on: start the sequence at a random point so that reports
            # from before and after a power loss cannot be taken for each other.
            self.seq = hal.random_bits(16)
            self.booted = True
        self.state = st
        self.uplink = Uplink(cfg.node_id, hal, mid)
        self.report = None

    def wake(self):
        """Measure and decide; True when there is a report to send()."""
        hal = self.hal
        cfg = self.cfg
        temp = hal.temperature.celsius()
        ranger = hal.fill_sensor
        pct = measure.fill_pct(
            measure.distance_mm(ranger.samples(cfg.samples), ranger.unit, temp),
            cfg.empty_mm, cfg.full_mm)
        tilt = hal.tilt.degrees()
        f, send = report_policy.decide(cfg, self.state, codec.fill_to_byte(pct), temp, tilt,
                                       hal.lid.is_open(), self.booted)
        self.report = None
        if send:
            if self.booted:
                f |= codec.BIN_FLAG_BOOT
            self.seq = (self.seq + 1) & 0xFFFF
            self.report = codec.BinReport(self.seq, hal.clock.time(), pct, temp,
                                          hal.battery.mv(), tilt, f)
        return send

    def send(self):
        """Start sending the report; then poll() until it returns False."""
        self.uplink.post_confirmable(BIN_PATH, codec.encode_bin_report(self.report))

    def poll(self):
        """Call until it returns False; then the node may sleep."""
        if self.uplink.poll() and self.report is not None:
            code, detail = self.uplink.last_result or (None, "no answer")
            if code is not None and code.startswith("2."):
                self.ended(True, code)
            else:
                self.ended(False, "%s %s" % (code, detail))
        return self.uplink.busy()

    def ended(self, stored, detail):
        """The report was stored, or not (also: it could not be sent at all)."""
        r = self.report
        if r is not None:
            report_policy.answered(self.state, stored, codec.fill_to_byte(r.fill_pct), r.flags)
            self.hal.log(("report %d stored (%s)" if stored else "report %d not stored: %s")
                         % (r.seq, detail))

    def next_deadline_ms(self):
        return self.uplink.next_deadline_ms()

    def sleep(self):
        """Save what must survive deep sleep; return how long to sleep (ms)."""
        st = self.state
        self.hal.store.save(struct.pack(
            _STATE, _LAYOUT, self.seq, self.uplink.mid, st.last_fill, st.reported_fill,
            st.last_temp, st.last_tilt, st.reported_alarms, st.since_report, st.lost,
            st.lid_was_open))
        return self.cfg.measure_interval_s * 1000
