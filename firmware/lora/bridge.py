# The radio bridge role: an ESP32 with one or more LoRa modems on the
# gateway's USB port. It forwards every frame heard on the air to the gateway
# (RX), transmits what the gateway asks (TX) within its own duty-cycle budget,
# and says what it listens on (HELLO). It makes no decision about the frames
# themselves: CoAP, duplicates and scheduling are the gateway's.
from firmware.lora import bridge_frame
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_ms
from firmware.lora.duty_cycle import DutyCycle

HELLO_INTERVAL_MS = 30000
# The reference build: six SX1262 modules on the uplink channel, one per SF,
# since a LoRa receiver demodulates one spreading factor at a time.
DEFAULT_RECEIVERS = [(radio_plan.UPLINK_KHZ, sf)
                     for sf in range(radio_plan.SF_MIN, radio_plan.SF_MAX + 1)]
POWER_MIN_DBM = -9
POWER_MAX_DBM = 22  # the SX1262's ceiling; 869.525 MHz allows more ERP
MAX_RX_PER_POLL = 4
# The bridge's duty-cycle record. The gateway keeps the same record of the
# same transmissions (gateway/radio/downlink.py), so both must merge alike.
DUTY_ENTRIES = 256


class Bridge:
    """receivers: [(freq_khz, sf)], one per modem, in the same order; modem 0
    also transmits. serial: read() -> bytes or None, write(bytes). clock:
    ms() that does not wrap. log: a function of one line."""

    def __init__(self, receivers, modems, serial, clock, log, duty=None):
        if not modems or len(receivers) != len(modems):
            raise ValueError("one (freq_khz, sf) receiver per modem, and at least one modem")
        for freq, sf in receivers:
            radio_plan.sub_band(freq)  # ValueError outside the plan
            if not radio_plan.SF_MIN <= sf <= radio_plan.SF_MAX:
                raise ValueError("spreading factor %d is outside 7..12" % sf)
        self.receivers = [(int(f), int(s)) for f, s in receivers]
        self.modems = modems
        self.serial = serial
        self.clock = clock
        self.log = log
        self.duty = duty if duty is not None else DutyCycle(DUTY_ENTRIES)
        self.reader = bridge_frame.FrameReader()
        self.counts = {"rx": 0, "rx bad crc": 0, "tx sent": 0, "tx refused": 0, "tx bad": 0,
                       "tx radio error": 0, "serial bad": 0}
        self._next_hello = None
        self._warned = set()
        self._reader_counts = self.reader.counts()

    def start(self):
        for i in range(len(self.modems)):
            self._listen(i)
        self.hello(self.clock.ms())

    def _listen(self, i):
        freq, sf = self.receivers[i]
        modem = self.modems[i]
        # The drivers refuse configure() while receiving: stop first.
        modem.standby()
        modem.configure(radio_plan.lora_cfg(freq, sf))
        modem.start_recv(continuous=True)

    def _warn_once(self, key, line):
        if key not in self._warned:
            self._warned.add(key)
            self.log(line)

    def hello(self, now):
        self.serial.write(bridge_frame.encode_hello(now, self.receivers))
        self._next_hello = now + HELLO_INTERVAL_MS

    def poll(self):
        """Forward what the modems heard, carry out what the gateway asked."""
        if self._next_hello is None:
            self.start()
        now = self.clock.ms()
        for i in range(len(self.modems)):
            self._receive(i, now)
        data = self.serial.read()
        if data:
            for body in self.reader.feed(data):
                self._handle(body)
            self._note_serial_errors()
        now = self.clock.ms()
        if now >= self._next_hello:
            self.hello(now)

    def _receive(self, i, now):
        modem = self.modems[i]
        freq, sf = self.receivers[i]
        for _ in range(MAX_RX_PER_POLL):
            pkt = modem.poll_recv()
            if pkt is True:
                return
            if pkt is False or pkt is None:
                # Not receiving any more (a driver timeout or error): listen again.
                self._listen(i)
                return
            if not getattr(pkt, "valid_crc", True):
                self.counts["rx bad crc"] += 1
                continue
            if not 1 <= len(pkt) <= bridge_frame.MAX_RADIO_FRAME:
                continue
            self.counts["rx"] += 1
            self.serial.write(bridge_frame.encode_rx(
                now, freq, sf, int(getattr(pkt, "rssi", 0)), int(getattr(pkt, "snr", 0)),
                bytes(pkt)))

    def _note_serial_errors(self):
        counts = self.reader.counts()
        for kind in counts:
            if counts[kind] != self._reader_counts[kind]:
                self.counts["serial bad"] += counts[kind] - self._reader_counts[kind]
                self._warn_once(kind, "serial: %s from the gateway, dropped; check the cable "
                                      "and that only the gateway uses the port" % kind)
        self._reader_counts = counts

    def _handle(self, body):
        try:
            frame = bridge_frame.decode(body)
        except bridge_frame.FrameError as e:
            self.counts["serial bad"] += 1
            self._warn_once(e.reason, "serial: %s, dropped" % e)
            return
        if not isinstance(frame, bridge_frame.Tx):
            self.counts["serial bad"] += 1
            self._warn_once("kind %d" % body[0],
                            "serial: the gateway sent a frame of kind %d, which only a bridge "
                            "sends; dropped" % body[0])
            return
        self.serial.write(self._transmit(frame))

    def _transmit(self, tx):
        now = self.clock.ms()
        status = bridge_frame.TX_SENT
        air = 0
        try:
            radio_plan.duty_divisor(tx.freq_khz)
            ok = radio_plan.SF_MIN <= tx.sf <= radio_plan.SF_MAX \
                and POWER_MIN_DBM <= tx.power_dbm <= POWER_MAX_DBM
        except ValueError:
            ok = False
        if not ok:
            self.counts["tx bad"] += 1
            self.log("TX %d refused: %d kHz SF%d %d dBm is outside the radio plan"
                     % (tx.tx_id, tx.freq_khz, tx.sf, tx.power_dbm))
            return bridge_frame.encode_tx_result(tx.tx_id, bridge_frame.TX_REFUSED_BAD, now, 0)
        air = airtime_ms(len(tx.frame), tx.sf)
        wait = self.duty.wait_ms(tx.freq_khz, air, now)
        if wait > 0:
            self.counts["tx refused"] += 1
            self.log("TX %d refused: duty cycle on %d kHz allows it in %d ms"
                     % (tx.tx_id, tx.freq_khz, wait))
            return bridge_frame.encode_tx_result(tx.tx_id, bridge_frame.TX_REFUSED_DUTY, now, air)
        # Counted before sending: a send that fails halfway may still have
        # been on the air.
        self.duty.record(tx.freq_khz, air, now)
        modem = self.modems[0]
        try:
            modem.standby()
            modem.configure(radio_plan.lora_cfg(tx.freq_khz, tx.sf, tx.power_dbm,
                                                invert_iq_tx=True))
            modem.send(tx.frame)
            self.counts["tx sent"] += 1
        except Exception as e:  # a driver error must not stop the bridge
            status = bridge_frame.TX_RADIO_ERROR
            self.counts["tx radio error"] += 1
            self.log("TX %d failed: %r" % (tx.tx_id, e))
        try:
            self._listen(0)
        except Exception as e:
            self.log("modem 0 could not listen again: %r" % (e,))
        return bridge_frame.encode_tx_result(tx.tx_id, status, now, air)


class RingLog:
    """The USB serial line carries frames, not text: the bridge keeps its last
    log lines in RAM (read them with mpremote after a reset into the REPL)."""

    def __init__(self, size=32):
        self.size = size
        self.lines = []

    def __call__(self, line):
        self.lines.append(line)
        if len(self.lines) > self.size:
            self.lines.pop(0)

