# A bin node: wake, measure how full the bin is, decide by its report policy
# whether to tell the gateway, queue the report if so, send what is queued as
# confirmable CoAP POSTs, sleep.
# On an ESP32 the node is re-created at every wake from deep sleep, so
# everything it must remember lives in `hal.store` (RTC memory), and the
# reports not yet acknowledged in `hal.outbox` (flash, firmware/waste/outbox.py),
# which also survives a power loss.
import struct

from firmware.net import secure
from firmware.net.uplink import Uplink
from firmware.proto.paths import BIN_PATH
from firmware.waste import measure, report_policy
from firmware.waste import payload as codec
from firmware.waste.outbox import MemStore, Outbox

# RTC memory (docs/protocol.md, "Node memory across deep sleep"): 14 bytes,
# layout tag (u8), seq (u16), CoAP message id (u16), last fill byte (u8),
# last queued report's fill byte (u8), last temperature (i8), last tilt (u8),
# alarm flags of the last queued report (u8), wakes since the last report
# (u16), exchanges without a report stored in a row (u8), bits (u8: 0x01 lid
# open last wake); then the radio link's state (u8 length, bytes) and the
# net's duty-cycle record (u32 ms slept since it was taken, u16 length, bytes),
# then, with OSCORE, its sender sequence (u8 length, bytes:
# firmware/oscore/sequence.py); absent without (the sequence then resumes from
# flash).
_STATE = ">BHHBBbBBHBB"
# The layout tag changes whenever the layout does, so that new firmware never
# misreads what an older one left in RTC memory (it starts afresh instead).
_LAYOUT = 0xB3
_RTC_BYTES = 2048
# Reports sent from the queue in one wake at most: a node back in range after
# days must not keep its radio on for an hour (the rest go at the next wakes).
_MAX_SENDS = 8
_HOUR_MS = 3600000  # the duty cycle's window: older transmissions do not count


def _seq_time(payload):
    """(seq, measured unix time) of a queued bin report."""
    return struct.unpack(">HI", payload[2:8])


def _text(detail):
    # A diagnostic worth logging is printable text; over LoRa the payload is
    # link feedback instead.
    if isinstance(detail, (bytes, bytearray)):
        if not all(32 <= b < 127 for b in detail):
            return ""
        return bytes(detail).decode()
    return str(detail)


def saved_state(saved):
    """(seq, CoAP message id, report_policy.State, the bytes after them) from
    what a wake left in RTC memory; None when it holds no state of this
    layout (after power-on, or from other firmware)."""
    n = struct.calcsize(_STATE)
    if len(saved) < n or saved[0] != _LAYOUT:
        return None
    st = report_policy.State()
    (_, seq, mid, st.last_fill, st.reported_fill, st.last_temp, st.last_tilt,
     st.reported_alarms, st.since_report, st.lost, bits) = struct.unpack(_STATE, saved[:n])
    st.lid_was_open = bool(bits & 1)
    return seq, mid, st, saved[n:]


class BinNode:
    def __init__(self, cfg, hal):
        self.cfg = cfg
        self.hal = hal
        saved = saved_state(bytes(hal.store.load()))
        mid = None
        self._link = b""  # the uplink's link state left by the last wake
        # The net's duty-cycle record (None once handed to the net), taken
        # _duty_age ms of sleep ago.
        self._duty = b""  # type: bytes | None
        self._duty_age = 0
        self._oscore = b""  # OSCORE's sequence state left by the last wake
        if saved is not None:
            self.seq, mid, st, tail = saved
            self._load_tail(tail)
            self.booted = False
        else:
            st = report_policy.State()
            # Power-on: start the sequence at a random point so that reports
            # from before and after a power loss cannot be taken for each other.
            self.seq = hal.random_bits(16)
            self.booted = True
        self.state = st
        net = hal.net  # None until Wi-Fi is up: the plain uplink fits it
        self.uplink = net.uplink(cfg.node_id, hal, mid) if net is not None \
            else Uplink(cfg.node_id, hal, mid)
        if self._link:
            self.uplink.restore_link(self._link)
        # With a key and a kid every report is protected (OSCORE); the context
        # is made when there is something to send, not at every wake.
        self.secure = secure.wanted(cfg, net)
        flash = getattr(hal, "outbox", None)
        if flash is None and self.booted:
            hal.log("no queue in flash: a report not acknowledged is kept until sleep only")
        self.outbox = Outbox(flash or MemStore(), log=hal.log)
        self.report = None  # the report this wake created, if any
        self.acked = []  # (seq, measured time) of each report stored during this wake
        self.refused = []  # (seq, code) of each report the gateway refused for good
        self._sends = 0

    def _load_tail(self, tail):
        if not tail or len(tail) < 1 + tail[0] + 6:
            return
        k = tail[0]
        age, d = struct.unpack(">IH", tail[1 + k:7 + k])
        duty = tail[7 + k:7 + k + d]
        if len(duty) == d:
            self._link = tail[1:1 + k]
            self._duty, self._duty_age = duty, age
            rest = tail[7 + k + d:]
            if rest and len(rest) >= 1 + rest[0]:
                self._oscore = rest[1:1 + rest[0]]

    def _net_duty(self):
        """The net's duty-cycle record, given what earlier wakes transmitted
        the first time it is seen (the net is built anew at every wake)."""
        net = self.hal.net
        duty = None if net is None else net.duty  # None: no radio this wake, or Wi-Fi
        if duty is not None and self._duty is not None:
            if self._duty:
                duty = net.duty = type(duty).load(self._duty, self.hal.clock.ms(),
                                                  self._duty_age)
            self._duty = None
        return duty

    def wake(self):
        """Measure and decide; True when there is anything to send(): the
        report this wake created, or older ones still queued."""
        hal = self.hal
        cfg = self.cfg
        st = self.state
        temp = hal.temperature.celsius()
        ranger = hal.fill_sensor
        pct = measure.fill_pct(
            measure.distance_mm(ranger.samples(cfg.samples), ranger.unit, temp),
            cfg.empty_mm, cfg.full_mm)
        fill_b = codec.fill_to_byte(pct)
        tilt = hal.tilt.degrees()
        f, send = report_policy.decide(cfg, st, fill_b, temp, tilt, hal.lid.is_open(),
                                       self.booted)
        self.report = None
        box = self.outbox
        if send:
            if self.booted:
                f |= codec.BIN_FLAG_BOOT
            # The report that makes room, or the first after a drop, tells the
            # gateway (the seq gap says how many).
            flagged = box.must_flag or box.full()
            if flagged:
                f |= codec.BIN_FLAG_QUEUE_DROPPED
            self.seq = (self.seq + 1) & 0xFFFF
            self.report = codec.BinReport(self.seq, hal.clock.time(), pct, temp,
                                          hal.battery.mv(), tilt, f)
            gone = box.push(BIN_PATH, codec.encode_bin_report(self.report), flagged)
            if gone is not None:
                hal.log("queue full: dropped report %d" % _seq_time(gone[1])[0])
            # Queued is as good as told: it will arrive, oldest first.
            report_policy.queued(st, fill_b, f)
            # A reset before sleep() must not reuse the seq now in the queue.
            self._save(0)
        # After 3 silent exchanges in a row, the queue waits for the next
        # report (the heartbeat) rather than trying the radio at every wake.
        return len(box) > 0 and (send or st.lost < 3)

    def send(self):
        """Start sending the queue, oldest first; then poll() until it returns
        False."""
        self._net_duty()
        self._sends = 0
        if self.secure and self.uplink.oscore is None:
            self.uplink.oscore = secure.endpoint(self.cfg, self.hal, self._oscore)
        self._next()

    def _next(self):
        head = self.outbox.head()
        if head is None or self._sends >= _MAX_SENDS:
            return
        path, payload = head
        w = self.uplink.wait_ms(path, payload)
        if w > 0:
            self.hal.log("report %d queued (%d waiting): duty cycle, %d s to wait"
                         % (_seq_time(payload)[0], len(self.outbox), (w + 999) // 1000))
            return
        self._sends += 1
        self.uplink.last_result = None
        self.uplink.post_confirmable(path, payload)
        if not self.uplink.busy():  # ended within the call
            self._ended()

    def poll(self):
        """Call until it returns False; then the node may sleep."""
        if self.uplink.poll():
            self._ended()
        return self.uplink.busy()

    def _ended(self):
        """The exchange for the queue's head ended: go on, or keep it for the
        next wake."""
        res = self.uplink.last_result
        code, detail = res if res else (None, "no answer")
        head = self.outbox.head()
        if head is None:
            return
        seq, t = _seq_time(head[1])
        log = self.hal.log
        if code is not None and code[0] in "24":
            self.outbox.pop()
            report_policy.heard(self.state, True)
            if code[0] == "2":
                self.acked.append((seq, t))
                log("report %d stored (%s)" % (seq, code))
            else:  # the gateway will never take it: sending it again is no use
                self.refused.append((seq, code))
                log(("report %d refused, dropped: %s %s" % (seq, code, _text(detail))).rstrip())
            self._next()
        else:  # no answer, or the gateway could not store it now
            report_policy.heard(self.state, False)
            why = detail if code is None else ("%s %s" % (code, _text(detail))).rstrip()
            log("report %d queued (%d waiting): %s" % (seq, len(self.outbox), why))

    def unsent(self, why):
        """The link could not be brought up: everything stays queued."""
        report_policy.heard(self.state, False)
        head = self.outbox.head()
        if head is not None:
            self.hal.log("report %d queued (%d waiting): %s"
                         % (_seq_time(head[1])[0], len(self.outbox), why))

    def next_deadline_ms(self):
        return self.uplink.next_deadline_ms()

    def sleep(self):
        """Save what must survive deep sleep; return how long to sleep (ms)."""
        ms = self.cfg.measure_interval_s * 1000
        self._save(ms)
        return ms

    def _save(self, sleep_ms):
        st = self.state
        data = struct.pack(
            _STATE, _LAYOUT, self.seq, self.uplink.mid, st.last_fill, st.reported_fill,
            st.last_temp, st.last_tilt, st.reported_alarms, st.since_report, st.lost,
            st.lid_was_open)
        link = bytes(self.uplink.link_state())
        if len(link) > 255:
            link = b""
        duty = self._net_duty()
        if duty is not None:
            rec, age = duty.dump(self.hal.clock.ms()), sleep_ms
        else:  # no radio this wake: the record ages by the sleeps since
            rec, age = self._duty or b"", self._duty_age + sleep_ms
        if age >= _HOUR_MS:
            rec = b""  # all of it older than the window
        tail = bytes((len(link),)) + link + struct.pack(">IH", min(age, 0xFFFFFFFF), len(rec))
        if len(data) + len(tail) + len(rec) + 14 > _RTC_BYTES:  # never: 16 entries at most
            self.hal.log("duty-cycle record too big for RTC memory: %d bytes" % len(rec))
            rec = b""
            tail = tail[:-2] + b"\0\0"
        ep = self.uplink.oscore
        oscore = bytes(ep.sequence.state()) if ep is not None else self._oscore
        if oscore:
            rec += bytes((len(oscore),)) + oscore
        self.hal.store.save(data + tail + rec)
