# OSCORE's counters that must never go back: the sequence numbers this node
# sends with (RFC 8613 section 7.2.1) and the window of sequence numbers it
# has accepted from its peer (section 7.4).
#
# Both keep their exact state in RTC memory across deep sleep (state() gives
# the bytes, the `state` argument takes them back: the node puts them in its
# own RTC record, as it does the link's) and a bound ahead of it in flash
# (an injected store: load() -> bytes, save(bytes); NVS on the ESP32), as
# Appendix B.1.1 describes: the store holds a value past every number used,
# written before any number beyond the last one written is used. After a
# power loss (RTC memory gone) counting resumes from the value in flash, so a
# sequence number is never used twice and a request is never accepted twice,
# whatever happened to the node. What a power loss costs: up to `chunk`
# sequence numbers skipped, and up to `chunk` of the peer's requests refused
# as old (the peer's sequence numbers between its last one seen and the
# bound), and one flash write every `chunk` messages.
import struct

from firmware.oscore.context import MAX_PIV

SENDER_CHUNK = 64
WINDOW_CHUNK = 32
WINDOW_SIZE = 32

_SSN_TAG = 0x5E
_WIN_TAG = 0x5F


# Counters go up to 2**40 (a bound one past the last number): 6 bytes each.
def _pack(n):
    return struct.pack(">HI", n >> 32, n & 0xFFFFFFFF)


def _unpack(data, at):
    hi, lo = struct.unpack(">HI", data[at:at + 6])
    return (hi << 32) | lo


def _load_bound(store, tag):
    """The value in flash, or 0 when there is none (a new context)."""
    data = bytes(store.load()) if store is not None else b""
    if len(data) != 7 or data[0] != tag:
        return 0
    return _unpack(data, 1)


def _save_bound(store, tag, n):
    if store is not None:
        store.save(bytes((tag,)) + _pack(n))


class ContextExhausted(ValueError):
    """All 2**40 sequence numbers are used: the context needs new keys."""


class SenderSequence:
    """The next sequence number to send with; take() gives it out."""

    def __init__(self, flash, chunk=SENDER_CHUNK, state=None):
        self.flash = flash
        self.chunk = chunk
        stored = _load_bound(flash, _SSN_TAG)
        self.next = stored
        self.limit = stored  # numbers below it are covered by the flash
        if state:
            data = bytes(state)
            # RTC memory counts only while it agrees with the flash (it may
            # be another context's, or from before the flash was cleared).
            if len(data) == 13 and data[0] == _SSN_TAG and _unpack(data, 7) == stored:
                n = _unpack(data, 1)
                if n <= stored:
                    self.next = n

    def take(self):
        n = self.next
        if n > MAX_PIV:
            raise ContextExhausted("OSCORE sender sequence numbers used up")
        if n >= self.limit:
            self.limit = min(n + self.chunk, MAX_PIV + 1)
            _save_bound(self.flash, _SSN_TAG, self.limit)  # before n is used
        self.next = n + 1
        return n

    def state(self):
        """13 bytes for RTC memory: tag, next, the flash's bound (u48 each)."""
        return bytes((_SSN_TAG,)) + _pack(self.next) + _pack(self.limit)


class ReplayWindow:
    """The peer's sequence numbers accepted: the highest, and which of the
    `size` below it (section 7.4). seen(n) is asked before decrypting, and
    accept(n) only after the request verified."""

    def __init__(self, flash=None, chunk=WINDOW_CHUNK, size=WINDOW_SIZE, state=None):
        if not 1 <= size <= 32:
            raise ValueError("replay window of 1 to 32")
        self.flash = flash
        self.chunk = chunk
        self.size = size
        stored = _load_bound(flash, _WIN_TAG)
        self.saved = stored  # every number accepted is below it
        self.floor = stored  # numbers below it are refused (not known any more)
        self.top = -1  # the highest accepted, -1: none yet
        self.bits = 0  # bit i: top - i was accepted
        if state:
            data = bytes(state)
            if len(data) == 23 and data[0] == _WIN_TAG and _unpack(data, 17) == stored:
                self.top = _unpack(data, 1) - 1
                self.bits = struct.unpack(">I", data[7:11])[0]
                self.floor = _unpack(data, 11)

    def seen(self, n):
        """True when n must be refused: accepted already, or too old to tell."""
        if n < self.floor:
            return True
        if n > self.top:
            return False
        back = self.top - n
        return back >= self.size or bool(self.bits >> back & 1)

    def accept(self, n):
        if n >= self.saved:
            self.saved = min(n + 1 + self.chunk, MAX_PIV + 1)
            _save_bound(self.flash, _WIN_TAG, self.saved)
        mask = (1 << self.size) - 1
        if n > self.top:
            shift = n - self.top
            self.bits = ((self.bits << shift) | 1) & mask if shift < self.size else 1
            self.top = n
        else:
            self.bits |= 1 << (self.top - n)

    def state(self):
        """23 bytes for RTC memory: tag, top + 1 (u48), the bits (u32), the
        floor (u48), the flash's bound (u48)."""
        return (bytes((_WIN_TAG,)) + _pack(self.top + 1) + struct.pack(">I", self.bits)
                + _pack(self.floor) + _pack(self.saved))
