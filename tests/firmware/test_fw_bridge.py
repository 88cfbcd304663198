# The bridge role against fake modems (micropython-lib's sync modem API) and a
# fake serial line: what it forwards, what it transmits, what it refuses.
from fakehal import FakeClock

from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.lora.bridge import HELLO_INTERVAL_MS, Bridge, airtime_ms
from firmware.lora.duty_cycle import DutyCycle


class Packet(bytearray):
    def __init__(self, payload, snr=0, rssi=0, valid_crc=True):
        super().__init__(payload)
        self.snr = snr
        self.rssi = rssi
        self.valid_crc = valid_crc
        self.ticks_ms = 0


class FakeModem:
    def __init__(self):
        self.cfg = None
        self.receiving = False
        self.heard = []  # packets poll_recv hands out, oldest first
        self.sent = []  # (cfg, frame)
        self.fail = False

    def configure(self, cfg):
        # As both micropython-lib drivers: no reconfiguring mid-reception.
        if self.receiving:
            raise RuntimeError("Receiving")
        self.cfg = dict(cfg)

    def standby(self):
        self.receiving = False

    def start_recv(self, timeout_ms=None, continuous=False, rx_length=0xFF):
        assert continuous
        self.receiving = True
        return True

    def poll_recv(self, rx_packet=None):
        if not self.receiving:
            return False
        if self.heard:
            return self.heard.pop(0)
        return True

    def send(self, packet):
        self.receiving = False
        if self.fail:
            raise OSError(5)
        self.sent.append((dict(self.cfg), bytes(packet)))
        return 0


class FakeSerial:
    def __init__(self):
        self.inbox = b""
        self.out = bf.FrameReader()
        self.frames = []

    def read(self):
        data, self.inbox = self.inbox, b""
        return data or None

    def write(self, data):
        self.frames += [bf.decode(b) for b in self.out.feed(data)]


RECEIVERS = [(radio_plan.UPLINK_KHZ, 7), (radio_plan.UPLINK_KHZ, 9)]


def _bridge(duty=None):
    modems = [FakeModem(), FakeModem()]
    serial = FakeSerial()
    clock = FakeClock(1000)
    lines = []
    b = Bridge(RECEIVERS, modems, serial, clock, lines.append, duty)
    b.poll()
    return b, modems, serial, clock, lines


def test_says_hello_at_start_and_every_30_s():
    b, modems, serial, clock, _ = _bridge()
    hello = serial.frames[0]
    assert isinstance(hello, bf.Hello)
    assert hello.receivers == RECEIVERS and hello.version == 1 and hello.bridge_ms == 1000
    clock.advance(HELLO_INTERVAL_MS - 1)
    b.poll()
    assert len(serial.frames) == 1
    clock.advance(1)
    b.poll()
    assert len(serial.frames) == 2 and isinstance(serial.frames[1], bf.Hello)


def test_each_modem_listens_on_its_own_channel_with_normal_iq():
    _, modems, _, _, _ = _bridge()
    for modem, (freq, sf) in zip(modems, RECEIVERS):
        assert modem.receiving
        assert (modem.cfg["freq_khz"], modem.cfg["sf"]) == (freq, sf)
        assert not modem.cfg["invert_iq_rx"]


def test_forwards_what_each_modem_hears_with_its_signal_figures():
    b, modems, serial, clock, _ = _bridge()
    modems[1].heard.append(Packet(b"\x40\x02\x00\x01", snr=-30, rssi=-118))
    modems[0].heard.append(Packet(b"\xC0\xDB", snr=40, rssi=-60))
    modems[0].heard.append(Packet(b"bad", valid_crc=False))
    clock.advance(5)
    b.poll()
    rx = [f for f in serial.frames if isinstance(f, bf.Rx)]
    got = sorted((f.sf, f.frame, f.snr_q, f.rssi_dbm, f.freq_khz, f.bridge_ms) for f in rx)
    assert got == [(7, b"\xC0\xDB", 40, -60, 868100, 1005),
                   (9, b"\x40\x02\x00\x01", -30, -118, 868100, 1005)]
    assert b.counts["rx bad crc"] == 1


def test_transmits_a_tx_with_inverted_iq_then_listens_again():
    b, modems, serial, clock, _ = _bridge()
    serial.inbox = bf.encode_tx(42, radio_plan.DOWNLINK_KHZ, 9, 14, b"\x60\x44\x00\x01")
    b.poll()
    cfg, frame = modems[0].sent[0]
    assert frame == b"\x60\x44\x00\x01"
    assert (cfg["freq_khz"], cfg["sf"], cfg["output_power"], cfg["invert_iq_tx"]) == \
        (869525, 9, 14, True)
    assert modems[0].receiving and (modems[0].cfg["freq_khz"], modems[0].cfg["sf"]) == (868100, 7)
    res = serial.frames[-1]
    assert isinstance(res, bf.TxResult)
    assert (res.tx_id, res.status, res.bridge_ms, res.airtime_ms) == \
        (42, bf.TX_SENT, 1000, airtime_ms(4, 9))
    assert modems[1].sent == []


def test_refuses_a_tx_over_its_duty_cycle_and_says_when():
    duty = DutyCycle()
    duty.record(radio_plan.DOWNLINK_KHZ, 360000, 1000)  # the whole hour's 10 %
    b, modems, serial, clock, lines = _bridge(duty)
    serial.inbox = bf.encode_tx(1, radio_plan.DOWNLINK_KHZ, 7, 14, b"abc")
    b.poll()
    assert modems[0].sent == []
    assert serial.frames[-1].status == bf.TX_REFUSED_DUTY
    assert "duty cycle" in lines[-1]
    assert modems[0].receiving


def test_refuses_a_tx_outside_the_plan():
    b, modems, serial, _, lines = _bridge()
    for tx_id, (freq, sf, power) in enumerate([(868100 + 2000, 7, 14), (869525, 6, 14),
                                               (869525, 7, 30), (915000, 7, 14)]):
        serial.inbox = bf.encode_tx(tx_id, freq, sf, power, b"abc")
        b.poll()
        assert serial.frames[-1].status == bf.TX_REFUSED_BAD, (freq, sf, power)
    assert modems[0].sent == []
    assert b.counts["tx bad"] == 4


def test_a_radio_error_is_reported_and_the_bridge_goes_on_listening():
    b, modems, serial, _, lines = _bridge()
    modems[0].fail = True
    serial.inbox = bf.encode_tx(3, radio_plan.DOWNLINK_KHZ, 7, 14, b"abc")
    b.poll()
    assert serial.frames[-1].status == bf.TX_RADIO_ERROR
    assert modems[0].receiving
    assert "TX 3 failed" in lines[-1]


def test_bad_serial_input_is_counted_and_logged_once_per_kind():
    b, modems, serial, _, lines = _bridge()
    bad_crc = bytearray(bf.encode_tx(1, radio_plan.DOWNLINK_KHZ, 7, 14, b"abc"))
    bad_crc[3] ^= 0xFF
    for _ in range(2):
        serial.inbox = b"\xC0\xDB\x01\xC0" + bytes(bad_crc) + bf.slip(b"\x07zz") \
            + bf.encode_hello(0, [])
        b.poll()
    assert b.counts["serial bad"] == 8
    assert len(lines) == 4
    # And it still transmits what is good.
    serial.inbox = bf.encode_tx(9, radio_plan.DOWNLINK_KHZ, 7, 14, b"ok")
    b.poll()
    assert serial.frames[-1].status == bf.TX_SENT


def test_a_modem_that_stopped_receiving_is_restarted():
    b, modems, _, _, _ = _bridge()
    modems[1].receiving = False
    b.poll()
    assert modems[1].receiving
