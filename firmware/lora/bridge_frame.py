# The serial framing between the radio bridge (an ESP32 with LoRa modems on
# USB) and the gateway. Both ends import this module, so they cannot disagree
# on a byte. docs/protocol.md documents the layout.
#
# Each frame is SLIP-delimited (RFC 1055) and ends with a CRC-16 of its body:
#
#   END  escaped(body + crc16(body) big-endian)  END
#
# An END also starts every frame, so that line noise before a frame is cut off
# by the frame's own delimiter instead of corrupting it.
import struct

from firmware.proto.crc16 import crc16

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

PROTOCOL_VERSION = 1

KIND_RX = 0x01  # bridge -> gateway: a frame heard on the air
KIND_TX = 0x02  # gateway -> bridge: a frame to transmit
KIND_TX_RESULT = 0x03  # bridge -> gateway: what became of a TX
KIND_HELLO = 0x04  # bridge -> gateway: who is listening where

TX_SENT = 0
TX_REFUSED_DUTY = 1  # the bridge's own duty-cycle budget forbids it now
TX_REFUSED_BAD = 2  # frequency/SF/power outside the plan, or frame too long
TX_RADIO_ERROR = 3

MAX_RADIO_FRAME = 255  # the largest LoRa payload
MAX_RECEIVERS = 16

_RX_HEAD = ">BIIBhb"  # kind, bridge_ms, freq_khz, sf, rssi_dbm, snr_q
_RX_HEAD_LEN = 13
_TX_HEAD = ">BHIBb"  # kind, tx_id, freq_khz, sf, power_dbm
_TX_HEAD_LEN = 9
_RESULT = ">BHBIH"  # kind, tx_id, status, bridge_ms, airtime_ms
_RESULT_LEN = 10
_HELLO_HEAD = ">BBIB"  # kind, version, bridge_ms, n
_HELLO_HEAD_LEN = 7
_RECEIVER = ">IB"  # freq_khz, sf

# The longest body any kind can have, plus its CRC: anything longer between
# two delimiters is not a frame of this protocol.
MAX_BODY = _RX_HEAD_LEN + MAX_RADIO_FRAME
MAX_FRAME = MAX_BODY + 2


class FrameError(ValueError):
    """A body with a good CRC that is still not a frame of this protocol.
    `reason` is one of "unknown kind", "bad length", "too long", "bad value"."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class Rx:
    def __init__(self, bridge_ms, freq_khz, sf, rssi_dbm, snr_q, frame):
        self.bridge_ms = bridge_ms
        self.freq_khz = freq_khz
        self.sf = sf
        self.rssi_dbm = rssi_dbm
        self.snr_q = snr_q  # SNR in quarter dB, as the modems report it
        self.frame = frame


class Tx:
    def __init__(self, tx_id, freq_khz, sf, power_dbm, frame):
        self.tx_id = tx_id
        self.freq_khz = freq_khz
        self.sf = sf
        self.power_dbm = power_dbm
        self.frame = frame


class TxResult:
    def __init__(self, tx_id, status, bridge_ms, airtime_ms):
        self.tx_id = tx_id
        self.status = status
        self.bridge_ms = bridge_ms
        self.airtime_ms = airtime_ms


class Hello:
    def __init__(self, version, bridge_ms, receivers):
        self.version = version
        self.bridge_ms = bridge_ms
        self.receivers = receivers  # [(freq_khz, sf)], one per listening modem


def _clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def _check_radio_frame(frame):
    if not 1 <= len(frame) <= MAX_RADIO_FRAME:
        raise FrameError("too long" if frame else "bad length",
                         "a radio frame is 1..%d bytes, got %d" % (MAX_RADIO_FRAME, len(frame)))


def slip(body):
    """The bytes on the serial line for one body."""
    c = crc16(body)
    out = bytearray((END,))
    for b in body:
        _escape(out, b)
    _escape(out, c >> 8)
    _escape(out, c & 0xFF)
    out.append(END)
    return bytes(out)


def _escape(out, b):
    if b == END:
        out.append(ESC)
        out.append(ESC_END)
    elif b == ESC:
        out.append(ESC)
        out.append(ESC_ESC)
    else:
        out.append(b)


def rx_body(bridge_ms, freq_khz, sf, rssi_dbm, snr_q, frame):
    _check_radio_frame(frame)
    # Signal figures are clamped rather than refused: a frame heard with an
    # odd reading is still worth forwarding.
    return struct.pack(_RX_HEAD, KIND_RX, bridge_ms & 0xFFFFFFFF, freq_khz, sf,
                       _clamp(rssi_dbm, -32768, 32767), _clamp(snr_q, -128, 127)) + bytes(frame)


def tx_body(tx_id, freq_khz, sf, power_dbm, frame):
    _check_radio_frame(frame)
    return struct.pack(_TX_HEAD, KIND_TX, tx_id & 0xFFFF, freq_khz, sf,
                       _clamp(power_dbm, -128, 127)) + bytes(frame)


def tx_result_body(tx_id, status, bridge_ms, airtime_ms):
    return struct.pack(_RESULT, KIND_TX_RESULT, tx_id & 0xFFFF, status, bridge_ms & 0xFFFFFFFF,
                       _clamp(airtime_ms, 0, 0xFFFF))


def hello_body(bridge_ms, receivers):
    if len(receivers) > MAX_RECEIVERS:
        raise FrameError("bad value", "at most %d receivers" % MAX_RECEIVERS)
    out = bytearray(struct.pack(_HELLO_HEAD, KIND_HELLO, PROTOCOL_VERSION,
                                bridge_ms & 0xFFFFFFFF, len(receivers)))
    for freq_khz, sf in receivers:
        out.extend(struct.pack(_RECEIVER, freq_khz, sf))
    return bytes(out)


def encode_rx(bridge_ms, freq_khz, sf, rssi_dbm, snr_q, frame):
    return slip(rx_body(bridge_ms, freq_khz, sf, rssi_dbm, snr_q, frame))


def encode_tx(tx_id, freq_khz, sf, power_dbm, frame):
    return slip(tx_body(tx_id, freq_khz, sf, power_dbm, frame))


def encode_tx_result(tx_id, status, bridge_ms, airtime_ms):
    return slip(tx_result_body(tx_id, status, bridge_ms, airtime_ms))


def encode_hello(bridge_ms, receivers):
    return slip(hello_body(bridge_ms, receivers))


def decode(body):
    """A CRC-checked body (as FrameReader gives it) to Rx, Tx, TxResult or
    Hello. Raises FrameError."""
    if not body:
        raise FrameError("bad length", "empty frame")
    kind = body[0]
    n = len(body)
    if kind == KIND_RX:
        if n < _RX_HEAD_LEN + 1:
            raise FrameError("bad length", "RX frame of %d bytes carries no radio frame" % n)
        _, ms, freq, sf, rssi, snr = struct.unpack(_RX_HEAD, body[:_RX_HEAD_LEN])
        frame = bytes(body[_RX_HEAD_LEN:])
        _check_radio_frame(frame)
        return Rx(ms, freq, sf, rssi, snr, frame)
    if kind == KIND_TX:
        if n < _TX_HEAD_LEN + 1:
            raise FrameError("bad length", "TX frame of %d bytes carries no radio frame" % n)
        _, tx_id, freq, sf, power = struct.unpack(_TX_HEAD, body[:_TX_HEAD_LEN])
        frame = bytes(body[_TX_HEAD_LEN:])
        _check_radio_frame(frame)
        return Tx(tx_id, freq, sf, power, frame)
    if kind == KIND_TX_RESULT:
        if n != _RESULT_LEN:
            raise FrameError("bad length", "TX_RESULT frame must be %d bytes, got %d"
                             % (_RESULT_LEN, n))
        _, tx_id, status, ms, air = struct.unpack(_RESULT, body)
        return TxResult(tx_id, status, ms, air)
    if kind == KIND_HELLO:
        if n < _HELLO_HEAD_LEN:
            raise FrameError("bad length", "HELLO frame of %d bytes is too short" % n)
        _, version, ms, count = struct.unpack(_HELLO_HEAD, body[:_HELLO_HEAD_LEN])
        if n != _HELLO_HEAD_LEN + 5 * count:
            raise FrameError("bad length", "HELLO frame announces %d receivers in %d bytes"
                             % (count, n))
        receivers = []
        for i in range(count):
            at = _HELLO_HEAD_LEN + 5 * i
            receivers.append(struct.unpack(_RECEIVER, body[at:at + 5]))
        return Hello(version, ms, [(int(f), int(s)) for f, s in receivers])
    raise FrameError("unknown kind", "unknown frame kind 0x%02x" % kind)


class FrameReader:
    """Cuts a byte stream into CRC-checked bodies. Feed it whatever chunks the
    serial port gives; it never raises on bad input, it counts it:

    garbage   bytes between delimiters that are no frame (bad escape, too
              short for a CRC, noise before the first delimiter)
    bad_crc   a delimited frame whose CRC does not match
    too_long  more bytes between delimiters than any frame can have
    """

    def __init__(self, max_frame=MAX_FRAME):
        self.max_frame = max_frame
        self._buf = bytearray()
        self._esc = False
        self._bad_escape = False
        self._overflow = False
        self._synced = False
        self.frames = 0
        self.garbage = 0
        self.bad_crc = 0
        self.too_long = 0

    def counts(self):
        return {"garbage": self.garbage, "bad crc": self.bad_crc, "too long": self.too_long}

    def feed(self, data):
        """Bodies (bytes, CRC removed) of the good frames completed by data."""
        out = []  # type: list[bytes]
        buf = self._buf
        for b in data:
            if b == END:
                self._end(out)
                buf = self._buf
                continue
            if self._overflow:
                continue
            if self._esc:
                self._esc = False
                if b == ESC_END:
                    b = END
                elif b == ESC_ESC:
                    b = ESC
                else:
                    self._bad_escape = True
            elif b == ESC:
                self._esc = True
                continue
            if len(buf) >= self.max_frame:
                self._overflow = True
                continue
            buf.append(b)
        return out

    def _end(self, out):
        buf = self._buf
        if self._overflow:
            self.too_long += 1
        elif not self._synced or self._bad_escape or self._esc:
            # Before the first delimiter we may have joined mid-frame.
            if buf or self._bad_escape or self._esc:
                self.garbage += 1
        elif buf:
            if len(buf) < 3:
                self.garbage += 1
            else:
                body = bytes(buf[:-2])
                if crc16(body) != (buf[-2] << 8) | buf[-1]:
                    self.bad_crc += 1
                else:
                    self.frames += 1
                    out.append(body)
        self._synced = True
        self._esc = False
        self._bad_escape = False
        self._overflow = False
        self._buf = bytearray()
