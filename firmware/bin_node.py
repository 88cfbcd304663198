# A bin node: wake, measure how full the bin is, report it to the gateway as a
# confirmable CoAP POST, sleep. On an ESP32 the node is re-created at every
# wake from deep sleep, so everything it must remember lives in `hal.store`
# (RTC memory).
import struct

from firmware import codec, fill
from firmware.messaging import BIN_PATH, Uplink

# seq (u16), CoAP message id (u16), last fill byte (u8), reports given up
# since the last success (u8)
_STATE = ">HHBB"


class BinNode:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        saved = hal.store.load()
        if len(saved) == struct.calcsize(_STATE):
            self.seq, mid, self.last_fill, self.lost = struct.unpack(_STATE, saved)
            self.uplink = Uplink(cfg.node_id, hal, mid)
            self.booted = False
        else:
            # Power-on: start the sequence at a random point so that reports
            # from before and after a power loss cannot be taken for each other.
            self.uplink = Uplink(cfg.node_id, hal)
            self.seq = hal.random_bits(16)
            self.last_fill = codec.FILL_UNKNOWN
            self.lost = 0
            self.booted = True
        self.report = None

    def measure(self):
        hal = self.hal
        pct = fill.fill_pct(hal.fill_sensor.distance_mm(), self.cfg.empty_mm, self.cfg.full_mm)
        flags = 0
        if self.booted:
            flags |= codec.BIN_FLAG_BOOT
        if pct is not None and pct >= self.cfg.threshold_pct:
            flags |= codec.BIN_FLAG_THRESHOLD
        self.seq = (self.seq + 1) & 0xFFFF
        return codec.BinReport(self.seq, hal.clock.time(), pct, hal.temperature.celsius(),
                               hal.battery.mv(), None, flags)

    def wake(self):
        """Measure and start sending the report."""
        self.report = self.measure()
        self.uplink.post_confirmable(BIN_PATH, codec.encode_bin_report(self.report))

    def poll(self):
        """Call until it returns False; then the node may sleep."""
        report = self.report
        if self.uplink.poll() and report is not None:
            code, detail = self.uplink.last_result or (None, "no answer")
            if code is not None and code.startswith("2."):
                self.lost = 0
                self.hal.log("report %d stored (%s)" % (report.seq, code))
            else:
                self.lost = min(255, self.lost + 1)
                self.hal.log("report %d not stored: %s %s" % (report.seq, code, detail))
        return self.uplink.busy()

    def next_deadline_ms(self):
        return self.uplink.next_deadline_ms()

    def sleep(self):
        """Save what must survive deep sleep; return how long to sleep (ms)."""
        last = codec.fill_to_byte(self.report.fill_pct) if self.report else self.last_fill
        self.hal.store.save(struct.pack(_STATE, self.seq, self.uplink.mid, last, self.lost))
        return self.cfg.report_interval_s * 1000
