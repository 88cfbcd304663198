# Store and forward: the requests a node has made but the gateway has not yet
# acknowledged, oldest first, in flash (`hal.outbox`: load() -> bytes,
# save(bytes)), so that they survive deep sleep, a reboot and a power loss.
# Every change is saved at once: a report pushed is a report kept.
#
# Layout (docs/protocol.md, "Queue in flash"): version (u8), bits (u8: 0x01
# the next report must carry QUEUE_DROPPED), dropped (u16, saturates), then
# per entry: path length (u8), path, payload length (u8), payload.
import struct

_VERSION = 1
_HEAD = ">BBH"


class MemStore:
    """Bytes kept in RAM only: for a node without flash to spare (its queue
    then lasts one wake)."""

    def __init__(self):
        self.data = b""

    def load(self):
        return self.data

    def save(self, data):
        self.data = bytes(data)


class Outbox:
    def __init__(self, store, capacity=48, log=None):
        self.store = store
        self.capacity = capacity
        self.entries = []  # type: list[tuple[str, bytes]]  # oldest first
        self.dropped = 0  # entries dropped to make room, ever (saturates at 0xFFFF)
        self.must_flag = False  # a drop not yet told in a report
        data = store.load()
        if data:
            try:
                self._parse(bytes(data))
            except (ValueError, IndexError) as e:
                self.entries = []
                self.dropped = 0
                self.must_flag = False
                if log:
                    log("queue in flash unreadable (%s): starting empty" % e)
            extra = len(self.entries) - capacity
            if extra > 0:  # a smaller capacity than before
                del self.entries[:extra]
                self._count_drop(extra)
                self._save()

    def _parse(self, data):
        if len(data) < 4:
            raise ValueError("%d bytes" % len(data))
        version, bits, self.dropped = struct.unpack(_HEAD, data[:4])
        if version != _VERSION:
            raise ValueError("version %d" % version)
        self.must_flag = bool(bits & 1)
        i = 4
        while i < len(data):
            n = data[i]
            path = data[i + 1:i + 1 + n]
            i += 1 + n
            m = data[i]
            payload = data[i + 1:i + 1 + m]
            i += 1 + m
            if not n or len(path) != n or len(payload) != m:
                raise ValueError("entry %d cut short" % len(self.entries))
            self.entries.append((path.decode(), payload))

    def _save(self):
        out = bytearray(struct.pack(_HEAD, _VERSION, 1 if self.must_flag else 0,
                                    self.dropped))
        for path, payload in self.entries:
            p = path.encode()
            out.append(len(p))
            out += p
            out.append(len(payload))
            out += payload
        self.store.save(bytes(out))

    def _count_drop(self, n=1):
        self.dropped = min(0xFFFF, self.dropped + n)
        self.must_flag = True

    def __len__(self):
        return len(self.entries)

    def full(self):
        return len(self.entries) >= self.capacity

    def push(self, path, payload, flagged=False):
        """Queue a request (path up to 255 bytes, payload up to 255 bytes).
        When full, the oldest is dropped to make room and returned (else None).
        `flagged`: this payload tells the gateway of the drops so far (and of
        the one this push makes): the next need not."""
        if len(path.encode()) > 255 or len(payload) > 255:
            raise ValueError("queued request too long")
        gone = None
        if self.full():
            gone = self.entries.pop(0)
            self._count_drop()
        if flagged:
            self.must_flag = False
        self.entries.append((path, bytes(payload)))
        self._save()
        return gone

    def head(self):
        """The oldest request (path, payload), or None."""
        return self.entries[0] if self.entries else None

    def pop(self):
        """Remove the oldest request (answered, or refused for good)."""
        if self.entries:
            del self.entries[0]
            self._save()
