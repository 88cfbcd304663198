# A node's LoRa link to the gateway, with the same interface as its UDP net
# (firmware/net/transport.py) and what a slow, duty-cycled radio adds: how long to wait before
# a frame may go, and an ACK timeout that fits the airtime.
#
# Uplinks go on UPLINK_KHZ with normal IQ; the gateway answers on
# DOWNLINK_KHZ with inverted IQ, louder and so at a lower spreading factor
# (radio_plan.downlink_sf), so the modem is configured for transmission before
# each frame and for reception after it.
# `modem` is a micropython-lib LoRa modem (SX1276, SX1262) or anything with
# its synchronous API (the simulator's, the tests').
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_ms
from firmware.lora.duty_cycle import DutyCycle
from firmware.lora.link import RESPONSE_LEN
from firmware.lora.uplink import LoraUplink
from firmware.net.transport import Transport

PROCESSING_MS = 1000  # the gateway's turnaround, serial line and scheduling
MIN_ACK_TIMEOUT_MS = 2000  # RFC 7252's ACK_TIMEOUT


class LoraNet(Transport):
    is_lora = True

    def __init__(self, modem, node_id, clock, log, duty=None, sf=radio_plan.SF_MIN,
                 output_power=14, listen=True, freq_khz=radio_plan.UPLINK_KHZ):
        self.modem = modem
        self.node_id = node_id
        self.clock = clock
        self._log = log
        # Replaced by a restored one when a node wakes from deep sleep.
        self.duty = duty if duty is not None else DutyCycle()  # type: DutyCycle
        self.sf = self._valid_sf(sf)
        self.output_power = output_power
        self.freq_khz = freq_khz
        self.rssi = None  # dBm, of the last frame received
        self.snr = None  # dB x 4 (as the modem gives it), of the last frame received
        self.listening = False
        self.used = False  # the modem was switched on since start
        if listen:  # light nodes: the gateway's requests come at any time
            self._listen()

    @staticmethod
    def _valid_sf(sf):
        return max(radio_plan.SF_MIN, min(radio_plan.SF_MAX, int(sf)))

    def _cfg(self, freq_khz, sf, invert_rx):
        return radio_plan.lora_cfg(freq_khz, sf, self.output_power, False, invert_rx)

    def _listen(self):
        self.used = True
        # The drivers refuse configure() while receiving: stop first.
        self.modem.standby()
        self.modem.configure(self._cfg(radio_plan.DOWNLINK_KHZ,
                                        radio_plan.downlink_sf(self.sf), True))
        self.modem.start_recv(continuous=True)
        self.listening = True

    def log(self, line):
        self._log(line)

    def uplink(self, node_id, hal, mid=None):
        return LoraUplink(node_id, hal, mid)

    def airtime_ms(self, frame_len):
        return airtime_ms(frame_len, self.sf)

    def wait_ms(self, frame_len=RESPONSE_LEN):
        """0 when a frame of frame_len bytes may go now, else ms to wait."""
        return self.duty.wait_ms(self.freq_khz, self.airtime_ms(frame_len), self.clock.ms())

    def ack_timeout_ms(self, frame_len=RESPONSE_LEN):
        """CoAP's ACK_TIMEOUT for a frame of frame_len bytes: the uplink and
        the answer on air, and the gateway's turnaround."""
        return max(MIN_ACK_TIMEOUT_MS, self.airtime_ms(frame_len)
                   + airtime_ms(RESPONSE_LEN, radio_plan.downlink_sf(self.sf))
                   + PROCESSING_MS)

    def set_sf(self, sf):
        sf = self._valid_sf(sf)
        if sf != self.sf:
            self.sf = sf
            if self.listening:  # answers now come at the new SF
                self._listen()

    def send(self, data):
        """Transmit one frame (blocks for its airtime). False, and nothing
        sent, when it is too long or the duty cycle forbids it now."""
        n = len(data)
        if not 0 < n <= radio_plan.MAX_FRAME:
            self.log("LoRa: %d-byte frame not sent: a frame holds 1 to %d bytes"
                     % (n, radio_plan.MAX_FRAME))
            return False
        now = self.clock.ms()
        air = self.airtime_ms(n)
        wait = self.duty.wait_ms(self.freq_khz, air, now)
        if wait:
            self.log("LoRa: duty cycle: %d-byte frame not sent, %d ms of %d kHz airtime "
                     "used this hour; next in %d ms"
                     % (n, self.duty.used_ms(self.freq_khz, now), self.freq_khz, wait))
            return False
        self.used = True
        self.listening = False
        self.modem.standby()
        self.modem.configure(self._cfg(self.freq_khz, self.sf, False))
        self.modem.send(data)
        self.duty.record(self.freq_khz, air, now)
        self._listen()  # the answer follows on the downlink channel
        return True

    def recv(self):
        """One received frame (bytes) or None; never blocks."""
        if not self.listening:
            return None
        rx = self.modem.poll_recv()
        if rx is True or rx is None:
            return None
        if rx is False:  # the modem stopped receiving (reset, timeout): resume
            self._listen()
            return None
        if not getattr(rx, "valid_crc", True):
            return None
        self.rssi = getattr(rx, "rssi", None)
        self.snr = getattr(rx, "snr", None)
        return bytes(rx)

    def sleep(self):
        """Modem to sleep (before the node's deep sleep)."""
        self.listening = False
        self.modem.sleep()
