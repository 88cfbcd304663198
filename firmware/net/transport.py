# The contract of a node's link to the gateway (hal.net), as a base class with
# what a link that does not say otherwise does: no duty cycle, CoAP's own ACK
# timeout, answers go to the gateway. Every link inherits it: UDP over Wi-Fi
# (firmware/hal/esp32.py), LoRa (firmware/lora/net.py), the simulator's and
# the tests'. A link implements send() and recv() and overrides what differs.
from firmware.net.uplink import Uplink
from firmware.proto.coap import ACK_TIMEOUT_MS


class Transport:
    is_lora = False  # True: a LoRa link (firmware/lora/net.py), with sf and set_sf()
    sf = None  # type: int | None  # over LoRa: the spreading factor frames go out at
    duty = None  # type: object  # over LoRa: the record of firmware/lora/duty_cycle.py
    used = False  # over LoRa: the modem was switched on since start

    def uplink(self, node_id, hal, mid=None):
        """The node's requests to the gateway over this link
        (firmware/net/uplink.py); a LoRa link makes its own."""
        return Uplink(node_id, hal, mid)

    def send(self, data):
        """Send one datagram to the gateway; False when it was not sent."""
        raise NotImplementedError

    def recv(self):
        """One received datagram (bytes) or None; never blocks."""
        return None

    def reply(self, data):
        """Answer the last received datagram's sender (a request from the
        gateway); a link with one peer sends it to the gateway."""
        self.send(data)

    def wait_ms(self, frame_len=0):
        """How long the duty cycle holds a frame of frame_len bytes back
        (0: it may go now)."""
        return 0

    def ack_timeout_ms(self, frame_len=0):
        """CoAP's ACK timeout for a request of frame_len bytes."""
        return ACK_TIMEOUT_MS

    def airtime_ms(self, frame_len):
        """Time on air of a frame of frame_len bytes (0: not a radio)."""
        return 0

    def set_sf(self, sf):
        """Over LoRa: send at spreading factor sf from now on."""

    def sleep(self):
        """Before the node's deep sleep: the radio off."""

    def log(self, line):
        """One of the link's own log lines (a LoRa link's duty-cycle refusals,
        Wi-Fi's reconnects); none by default. The self-test silences a link
        by setting net.log to a function that drops them."""
