# A small CoAP (RFC 7252) client for the node: message encoding and parsing,
# and one confirmable exchange at a time with the standard retransmission
# timers. MicroPython has no CoAP library, and the node needs only this much;
# the gateway side uses aiocoap.
import struct

VERSION = 1
CON = 0
NON = 1
ACK = 2
RST = 3

EMPTY = 0x00
GET = 0x01
POST = 0x02
PUT = 0x03

# Response codes (class << 5 | detail)
CREATED = 0x41  # 2.01
CHANGED = 0x44  # 2.04
BAD_REQUEST = 0x80  # 4.00
NOT_FOUND = 0x84  # 4.04

OPT_URI_PATH = 11
OPT_CONTENT_FORMAT = 12
CONTENT_OCTET_STREAM = 42
OPT_NO_RESPONSE = 258  # RFC 7967
NO_RESPONSE_2XX = 0x02  # not interested in success responses

# RFC 7252 section 4.8 transmission parameters.
ACK_TIMEOUT_MS = 2000
ACK_RANDOM_FACTOR_PERCENT = 150
MAX_RETRANSMIT = 4
# How long to wait for a separate response after an empty ACK.
SEPARATE_RESPONSE_TIMEOUT_MS = 30000


class CoapError(ValueError):
    """A datagram that is not a well-formed CoAP message."""


def code_class(code):
    return code >> 5


def code_str(code):
    return "%d.%02d" % (code >> 5, code & 0x1F)


class Message:
    def __init__(self, mtype, code, mid, token=b"", options=None, payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = options if options is not None else []  # [(number, bytes)]
        self.payload = payload

    def option(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def path(self):
        return "/".join(v.decode() for n, v in self.options if n == OPT_URI_PATH)


def _opt_nibble(value):
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes((value - 13,))
    return 14, struct.pack(">H", value - 269)


def encode(msg):
    if len(msg.token) > 8:
        raise ValueError("token longer than 8 bytes")
    out = bytearray()
    out.append((VERSION << 6) | (msg.mtype << 4) | len(msg.token))
    out.append(msg.code)
    out.extend(struct.pack(">H", msg.mid))
    out.extend(msg.token)
    last = 0
    # Options must go out in ascending number, and repeated options (several
    # Uri-Path segments) in their given order. MicroPython's sort is not
    # stable, so the original position is part of the key.
    order = sorted(range(len(msg.options)), key=lambda i: (msg.options[i][0], i))
    for number, value in [msg.options[i] for i in order]:
        dn, dext = _opt_nibble(number - last)
        ln, lext = _opt_nibble(len(value))
        out.append((dn << 4) | ln)
        out.extend(dext)
        out.extend(lext)
        out.extend(value)
        last = number
    if msg.payload:
        out.append(0xFF)
        out.extend(msg.payload)
    return bytes(out)


def _read_ext(nibble, data, i):
    if nibble < 13:
        return nibble, i
    if nibble == 13:
        if i >= len(data):
            raise CoapError("truncated option")
        return data[i] + 13, i + 1
    if nibble == 14:
        if i + 2 > len(data):
            raise CoapError("truncated option")
        return ((data[i] << 8) | data[i + 1]) + 269, i + 2
    raise CoapError("reserved option nibble 15")


def decode(data):
    if len(data) < 4:
        raise CoapError("shorter than a CoAP header")
    b0 = data[0]
    if b0 >> 6 != VERSION:
        raise CoapError("not CoAP version 1")
    tkl = b0 & 0x0F
    if tkl > 8:
        raise CoapError("token length %d is reserved" % tkl)
    mtype = (b0 >> 4) & 0x03
    code = data[1]
    mid = (data[2] << 8) | data[3]
    i = 4 + tkl
    if i > len(data):
        raise CoapError("truncated token")
    token = bytes(data[4:i])
    options = []
    number = 0
    payload = b""
    while i < len(data):
        b = data[i]
        i += 1
        if b == 0xFF:
            if i == len(data):
                raise CoapError("payload marker with no payload")
            payload = bytes(data[i:])
            break
        delta, i = _read_ext(b >> 4, data, i)
        length, i = _read_ext(b & 0x0F, data, i)
        if i + length > len(data):
            raise CoapError("truncated option value")
        number += delta
        options.append((number, bytes(data[i:i + length])))
        i += length
    return Message(mtype, code, mid, token, options, payload)


class Exchange:
    """One request and its response, with retransmission for CON requests.

    Driven by the caller's clock: call `poll(now_ms)` to learn what to send,
    `received(msg, now_ms)` with every datagram that arrives. `done` turns true
    when a response came, the request was reset, or every attempt timed out.
    """

    def __init__(self, request, now_ms, jitter, ack_timeout_ms=ACK_TIMEOUT_MS,
                 max_retransmit=MAX_RETRANSMIT):
        # jitter: 0..255, random, spreads the first timeout over
        # [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] as RFC 7252 asks.
        # ack_timeout_ms: longer than the RFC's 2 s over a slow link (LoRa),
        # where a frame and its answer take that long on air.
        self.request = request
        self.wire = encode(request)
        self.confirmable = request.mtype == CON
        self.max_retransmit = max_retransmit
        self.response = None
        self.failed = None  # why the exchange gave up, when it did
        self.attempts = 0
        self.acked = False
        self.answered = False  # anything for this exchange came back (ACK, RST, response)
        span = ack_timeout_ms * (ACK_RANDOM_FACTOR_PERCENT - 100) // 100
        self.timeout_ms = ack_timeout_ms + span * jitter // 255
        self.next_ms = now_ms
        self.done = False
        # The caller's, kept with the exchange: what its answer is verified
        # with (OSCORE), what the request was made of, and whether it was
        # made again for an Echo challenge (firmware/net/uplink.py).
        self.secured = None  # type: object
        self.sent = None  # type: tuple[str, bytes] | None
        self.echoed = False

    def due(self, now_ms):
        """True when poll(now_ms) would transmit."""
        if self.done or now_ms < self.next_ms:
            return False
        if not self.confirmable:
            return not self.attempts
        return not self.acked and self.attempts <= self.max_retransmit

    def hold(self, until_ms):
        """Put the next transmission off (the duty cycle forbids it now)
        without counting an attempt or shortening the wait for an answer."""
        if until_ms > self.next_ms:
            self.next_ms = until_ms

    def poll(self, now_ms):
        """The bytes to transmit now, or None."""
        if self.done or now_ms < self.next_ms:
            return None
        if not self.confirmable:
            if self.attempts:
                self.done = True
                return None
            self.attempts = 1
            self.done = True
            return self.wire
        if self.acked:
            self.done = True
            self.failed = "no separate response after ACK"
            return None
        if self.attempts > self.max_retransmit:
            self.done = True
            self.failed = "no answer after %d attempts" % self.attempts
            return None
        if self.attempts:
            self.timeout_ms *= 2
        self.attempts += 1
        self.next_ms = now_ms + self.timeout_ms
        return self.wire

    def received(self, msg, now_ms):
        """Take an incoming message. Returns bytes to send back (an ACK for a
        separate response), or None."""
        if self.done:
            return None
        req = self.request
        if msg.mtype in (ACK, RST) and msg.mid == req.mid:
            self.answered = True
            if msg.mtype == RST:
                self.done = True
                self.failed = "reset by peer"
                return None
            if msg.code == EMPTY:
                # The server will answer later in a separate CON response.
                self.acked = True
                self.next_ms = now_ms + SEPARATE_RESPONSE_TIMEOUT_MS
                return None
            if msg.token == req.token:
                self.response = msg
                self.done = True
            return None
        if msg.token == req.token and code_class(msg.code) >= 2 and msg.mtype in (CON, NON):
            self.answered = True
            self.response = msg
            self.done = True
            if msg.mtype == CON:
                return encode(Message(ACK, EMPTY, msg.mid))
        return None
