# What both node roles share: building CoAP requests to the gateway's
# resources and driving one confirmable exchange at a time, over any link
# (hal.net, firmware/net/transport.py). No transmission goes over the duty
# cycle: a (re)transmission it forbids waits, not counted as an attempt.
# A link makes the uplink that fits it (Transport.uplink()): over LoRa,
# firmware/lora/uplink.py adds the link feedback and the SF back-off, so a
# node on Wi-Fi never loads firmware/lora/.
#
# With OSCORE (`oscore`: an Endpoint of firmware/oscore/message.py, set by the
# node when its config has a key and a kid; firmware/net/secure.py) every
# request is protected once, when it is made: retransmissions send the same
# bytes, a request made anew takes a new sequence number. Only an answer that
# verifies against the current request ends an exchange; anything else (an
# unprotected error, a forgery, another request's answer) is ignored, and the
# request is retransmitted and kept queued as if nothing had come. The
# gateway's challenge after it lost its replay state (a protected 4.01 with
# Echo, RFC 9175) is answered by making the request once more with that Echo
# inside. Over LoRa the link feedback (firmware/lora/link.py: clock,
# spreading factor) is read from the verified answer only: a forged one sets
# nothing and counts as no answer for the SF back-off.
from firmware.proto import coap

# link_state() of a link without one: LoRa's layout (firmware/lora/uplink.py),
# spreading factor 0 (not set), no misses; kept in RTC memory as it is.
NO_LINK_STATE = b"\x00\x00"
OPT_ECHO = 252  # RFC 9175
UNAUTHORIZED = 0x81  # 4.01


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
        self.oscore = None  # an OSCORE Endpoint: requests protected, answers verified
        self.unverified = 0  # answers ignored because they did not verify
        # The last non-confirmable request sent protected: (its OSCORE
        # request, path, payload, made again for Echo already), so that an
        # Echo challenge to it is answered too.
        self.non = None

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

    def _request(self, mtype, path, payload, echo=None):
        """(the message to send, the OSCORE request its answer is verified
        with, or None without OSCORE)."""
        # Kept small for LoRa (a bin report within 25 bytes on air): an empty
        # token, since a node has one exchange at a time and its answer is
        # matched by message id; no Content-Format, since the resources take
        # application/octet-stream only.
        self.mid = (self.mid + 1) & 0xFFFF
        msg = self._message(mtype, path, payload, self.mid)
        if echo is not None:
            msg.options.append((OPT_ECHO, echo))
        if self.oscore is None:
            return msg, None
        return self.oscore.protect_request(msg)

    def _message(self, mtype, path, payload, mid):
        options = [(coap.OPT_URI_PATH, path.encode())]
        if self.oscore is None:
            # Protected, the request needs no name: the key it verifies with
            # is this node's alone, and the gateway takes the id from it.
            options.append((coap.OPT_URI_PATH, self.node_id.encode()))
        if mtype == coap.NON:
            # The No-Response option asks the gateway not to answer success,
            # which saves downlink airtime; errors still come back.
            options.append((coap.OPT_NO_RESPONSE, bytes((coap.NO_RESPONSE_2XX,))))
        return coap.Message(mtype, coap.POST, mid, b"", options, payload)

    def frame_len(self, path, payload, mtype=coap.CON):
        """Bytes on air of a POST of payload to path (protected, with OSCORE:
        the OSCORE option with the next sequence number and the kid, the
        plaintext and its 8-byte tag)."""
        n = len(coap.encode(self._message(mtype, path, payload, 0)))
        ep = self.oscore
        if ep is None:
            return n
        k = 1  # the Partial IV's length
        while ep.sequence.next >> (8 * k):
            k += 1
        # header, OSCORE option (1 + flags, Partial IV, kid), payload marker,
        # the code and the rest of the unprotected message, the tag
        return 4 + 2 + k + len(ep.context.sender_id) + 1 + (n - 4 + 1) + 8

    def wait_ms(self, path, payload):
        """How long the duty cycle holds a POST of payload to path back
        (0: it may go now; always 0 over Wi-Fi)."""
        return self.hal.net.wait_ms(self.frame_len(path, payload))

    def post_confirmable(self, path, payload):
        """Start a CON POST; drive it with poll() until busy() is False."""
        self._start(path, payload)
        self.poll()

    def _start(self, path, payload, echo=None):
        req, secured = self._request(coap.CON, path, payload, echo)
        net = self.hal.net
        self._lora()
        timeout = net.ack_timeout_ms(len(coap.encode(req)))
        ex = self.exchange = coap.Exchange(req, self.hal.clock.ms(), self.hal.random_bits(8),
                                           timeout, self.max_retransmit)
        ex.secured = secured  # the OSCORE request its answer must verify against
        ex.sent = (path, payload)  # made once more for the gateway's Echo challenge
        ex.echoed = echo is not None
        self.held_ms = None
        return ex

    def post_non_confirmable(self, path, payload, echo=None):
        """Send once, unacknowledged, with No-Response: the gateway answers
        errors only (an unknown node, a malformed event)."""
        req, secured = self._request(coap.NON, path, payload, echo)
        if secured is not None:
            self.non = (secured, path, payload, echo is not None)
        self._lora()
        self.hal.net.send(coap.encode(req))  # a LoRa net refuses (and logs) over the duty cycle

    def _verified(self, msg, secured):
        """The answer inside protected response msg to the request `secured`
        (an OSCORE request), or None when it does not verify."""
        ep = self.oscore
        if secured is None or ep is None:
            return None
        from firmware.oscore.message import OscoreError  # loaded with OSCORE only

        try:
            return ep.unprotect_response(msg, secured)
        except OscoreError:
            return None

    def _echo_asked(self, msg):
        """The Echo value of a verified 4.01 that asks for it, or None."""
        return msg.option(OPT_ECHO) if msg.code == UNAUTHORIZED else None

    def _log_echo(self, mid):
        self.hal.log("OSCORE: the gateway asks for proof of freshness (Echo): "
                     "request %d made again" % mid)

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
            if lora and (msg.code == coap.EMPTY
                         or (self.oscore is None and not self._feedback(msg))):
                # The gateway never sends an empty message over LoRa; an
                # unprotected answer tagged for a neighbour is the
                # neighbour's, with the same message id.
                continue
            if self.oscore is not None and msg.code != coap.EMPTY:
                # A piggybacked answer carries its request's message id: one
                # with another (a neighbour's, heard on the shared LoRa
                # channel) is not decrypted at all.
                ack = msg.mtype == coap.ACK
                inner = None
                if ex is not None and not (ack and msg.mid != ex.request.mid):
                    inner = self._verified(msg, ex.secured)
                if inner is None:
                    non = self.non
                    answer = None if ack or non is None else self._verified(msg, non[0])
                    if answer is None:
                        self.unverified += 1
                        continue  # not the gateway's word: as if nothing had come
                    # An (error) answer to the last non-confirmable request.
                    self.heard_ms = now
                    if lora:
                        self._feedback(answer)
                    echo = self._echo_asked(answer)
                    if echo is not None and non is not None and not non[3]:
                        self._log_echo(self.mid)
                        self.post_non_confirmable(non[1], non[2], echo)
                    continue
                msg = inner
                if lora:  # the link feedback, from the gateway's word only
                    self._feedback(msg)
                echo = self._echo_asked(msg)
                if echo is not None and ex is not None and ex.sent is not None \
                        and not ex.echoed:
                    # The gateway lost its replay state: the same request
                    # once more, new, with its Echo value inside.
                    self.heard_ms = now
                    self._log_echo(ex.request.mid)
                    ex = self._start(ex.sent[0], ex.sent[1], echo)
                    continue
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
