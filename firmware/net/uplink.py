# What both node roles share: building CoAP requests to the gateway's
# resources and driving one confirmable exchange at a time, over any link
# (hal.net, firmware/net/transport.py). No transmission goes over the duty
# cycle: a (re)transmission it forbids waits, not counted as an attempt.
# A link makes the uplink that fits it (Transport.uplink()): over LoRa,
# firmware/lora/uplink.py adds the link feedback and the SF back-off, so a
# node on Wi-Fi never loads firmware/lora/.
from firmware.proto import coap

# link_state() of a link without one: LoRa's layout (firmware/lora/uplink.py),
# spreading factor 0 (not set), no misses; kept in RTC memory as it is.
NO_LINK_STATE = b"\x00\x00"


class Uplink:
    def __init__(self, node_id, hal, mid=None):
        self.node_id = node_id
        self.hal = hal
        # A node that keeps its message id across deep sleep never repeats
        # one within the gateway's duplicate-detection window (RFC 7252
        # EXCHANGE_LIFETIME); a random start is for power-on.
        self.mid = hal.random_bits(16) if mid is None else mid
        self.exchange = None
        self.last_result = None  # (code string, diagnostic) of the last answered exchange
        self.heard_ms = hal.clock.ms()  # when anything last came from the gateway
        # Requests from the gateway (light nodes): a function of the decoded
        # message that returns the bytes to answer with, or None.
        self.on_request = None
        self.max_retransmit = coap.MAX_RETRANSMIT
        self.held_ms = None  # until when the duty cycle holds the exchange back

    def _lora(self):
        """True over LoRa (firmware/lora/uplink.py), having set the link up."""
        return False

    def link_state(self):
        """Bytes to keep across deep sleep, for restore_link()."""
        return NO_LINK_STATE

    def restore_link(self, data):
        """Take what link_state() gave before a deep sleep."""

    def _feedback(self, msg):
        """A response over LoRa: True when it is this node's."""
        return True

    def _missed(self):
        """A confirmable exchange over LoRa got no answer at all."""

    def _request(self, mtype, path, payload):
        # Kept small for LoRa (a bin report within 25 bytes on air): an empty
        # token, since a node has one exchange at a time and its answer is
        # matched by message id; no Content-Format, since the resources take
        # application/octet-stream only.
        self.mid = (self.mid + 1) & 0xFFFF
        return self._message(mtype, path, payload, self.mid)

    def _message(self, mtype, path, payload, mid):
        options = [
            (coap.OPT_URI_PATH, path.encode()),
            (coap.OPT_URI_PATH, self.node_id.encode()),
        ]
        return coap.Message(mtype, coap.POST, mid, b"", options, payload)

    def frame_len(self, path, payload):
        """Bytes on air of a POST of payload to path."""
        return len(coap.encode(self._message(coap.CON, path, payload, 0)))

    def wait_ms(self, path, payload):
        """How long the duty cycle holds a POST of payload to path back
        (0: it may go now; always 0 over Wi-Fi)."""
        return self.hal.net.wait_ms(self.frame_len(path, payload))

    def post_confirmable(self, path, payload):
        """Start a CON POST; drive it with poll() until busy() is False."""
        req = self._request(coap.CON, path, payload)
        net = self.hal.net
        self._lora()
        timeout = net.ack_timeout_ms(len(coap.encode(req)))
        self.exchange = coap.Exchange(req, self.hal.clock.ms(), self.hal.random_bits(8),
                                      timeout, self.max_retransmit)
        self.held_ms = None
        self.poll()

    def post_non_confirmable(self, path, payload):
        """Send once, unacknowledged. The No-Response option asks the gateway
        not to answer success, which saves downlink airtime; errors (an
        unknown node, a malformed event) still come back."""
        req = self._request(coap.NON, path, payload)
        req.options.append((coap.OPT_NO_RESPONSE, bytes((coap.NO_RESPONSE_2XX,))))
        self._lora()
        self.hal.net.send(coap.encode(req))  # a LoRa net refuses (and logs) over the duty cycle

    def cancel(self):
        """Drop the current exchange (e.g. the duty cycle holds it back
        longer than the node stays awake); not counted as unanswered."""
        self.exchange = None
        self.held_ms = None

    def busy(self):
        return self.exchange is not None and not self.exchange.done

    def poll(self):
        """Receive what has arrived, retransmit when due. Returns True when
        the current exchange finished during this call."""
        now = self.hal.clock.ms()
        ex = self.exchange
        net = self.hal.net
        lora = self._lora()
        while True:
            data = net.recv()
            if data is None:
                break
            try:
                msg = coap.decode(data)
            except coap.CoapError:
                continue
            if 0 < msg.code < 32:  # a request from the gateway
                self.heard_ms = now
                reply = self.on_request(msg) if self.on_request else None
                if reply is not None:  # to whoever asked (net.send: the gateway)
                    net.reply(reply)
                continue
            if lora and not self._feedback(msg):
                continue  # a neighbour's answer with the same message id
            self.heard_ms = now
            if ex is not None:
                reply = ex.received(msg, now)
                if reply is not None:
                    net.send(reply)
        if ex is None:
            return False
        if ex.due(now):
            wait = net.wait_ms(len(ex.wire))
            if wait:
                ex.hold(now + wait)
                if self.held_ms != ex.next_ms:
                    self.held_ms = ex.next_ms
                    self.hal.log("duty cycle: message %d waits %d ms" % (ex.request.mid, wait))
        if not ex.done:
            out = ex.poll(now)
            if out is not None:
                net.send(out)
        if ex.done:
            self.exchange = None
            self.held_ms = None
            if lora and ex.confirmable and not ex.answered:
                self._missed()
            if ex.response is not None:
                # Over LoRa the payload is the link feedback, no diagnostic.
                detail = b"" if lora else ex.response.payload
                self.last_result = (coap.code_str(ex.response.code), detail)
                return True
            self.last_result = (None, ex.failed)
            return True
        return False

    def next_deadline_ms(self):
        """When poll() must next be called even if nothing arrives."""
        if self.exchange is None or self.exchange.done:
            return None
        return self.exchange.next_ms
