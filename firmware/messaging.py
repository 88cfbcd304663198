# What both node roles share: building CoAP requests to the gateway's
# resources and driving one confirmable exchange at a time.
from firmware import coap

BIN_PATH = "b"
PRESENCE_PATH = "p"
STATUS_PATH = "s"


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

    def _request(self, mtype, path, payload):
        # Kept small for LoRa (a bin report within 25 bytes on air): an empty
        # token, since a node has one exchange at a time and its answer is
        # matched by message id; no Content-Format, since the resources take
        # application/octet-stream only.
        self.mid = (self.mid + 1) & 0xFFFF
        options = [
            (coap.OPT_URI_PATH, path.encode()),
            (coap.OPT_URI_PATH, self.node_id.encode()),
        ]
        return coap.Message(mtype, coap.POST, self.mid, b"", options, payload)

    def post_confirmable(self, path, payload):
        """Start a CON POST; drive it with poll() until busy() is False."""
        req = self._request(coap.CON, path, payload)
        self.exchange = coap.Exchange(req, self.hal.clock.ms(), self.hal.random_bits(8))
        self.poll()

    def post_non_confirmable(self, path, payload):
        """Send once, unacknowledged. The No-Response option asks the gateway
        not to answer success, which saves downlink airtime; errors (an
        unknown node, a malformed event) still come back."""
        req = self._request(coap.NON, path, payload)
        req.options.append((coap.OPT_NO_RESPONSE, bytes((coap.NO_RESPONSE_2XX,))))
        self.hal.net.send(coap.encode(req))

    def busy(self):
        return self.exchange is not None and not self.exchange.done

    def poll(self):
        """Receive what has arrived, retransmit when due. Returns True when
        the current exchange finished during this call."""
        now = self.hal.clock.ms()
        ex = self.exchange
        while True:
            data = self.hal.net.recv()
            if data is None:
                break
            try:
                msg = coap.decode(data)
            except coap.CoapError:
                continue
            self.heard_ms = now
            if 0 < msg.code < 32:  # a request from the gateway
                reply = self.on_request(msg) if self.on_request else None
                if reply is not None:  # to whoever asked (net.send: the gateway)
                    getattr(self.hal.net, "reply", self.hal.net.send)(reply)
                continue
            if ex is not None:
                reply = ex.received(msg, now)
                if reply is not None:
                    self.hal.net.send(reply)
        if ex is None:
            return False
        if not ex.done:
            out = ex.poll(now)
            if out is not None:
                self.hal.net.send(out)
        if ex.done:
            self.exchange = None
            if ex.response is not None:
                self.last_result = (coap.code_str(ex.response.code), ex.response.payload)
                return True
            self.last_result = (None, ex.failed)
            return True
        return False

    def next_deadline_ms(self):
        """When poll() must next be called even if nothing arrives."""
        if self.exchange is None or self.exchange.done:
            return None
        return self.exchange.next_ms
