# When a light node last heard the gateway, kept in RTC memory (hal.store) so
# that the node's self-test (firmware/selftest.py) can tell a technician at
# the pole, after the node's own loop has been stopped. RTC memory survives a
# watchdog reset but not a power cut: "nothing noted" means nothing heard
# since power-on. A light node has RTC memory to spare; a bin node keeps its
# own state there (firmware/waste/node.py) and never calls note().
import struct

_FORMAT = ">BI"  # tag, unix seconds (0: heard while the clock was not set)
# Not a bin node's layout tag, so that neither takes the other's bytes for
# its own.
_TAG = 0xC7


def note(store, unix):
    """The gateway was heard now (unix seconds; 0 when the clock is not set)."""
    store.save(struct.pack(_FORMAT, _TAG, max(0, min(0xFFFFFFFF, int(unix)))))


def heard(hal, heard_ms, noted_ms):
    """Notes the time when heard_ms (the uplink's, firmware/net/uplink.py) has
    moved on from noted_ms, the value this returned at the last call (or the
    uplink's heard_ms at start-up, which is no word from the gateway).
    Returns heard_ms."""
    if heard_ms != noted_ms:
        store = getattr(hal, "store", None)
        if store is not None:
            note(store, hal.clock.time())
    return heard_ms


def last(store):
    """Unix time of the last note (0: heard while the clock was not set), or
    None: nothing noted since power-on."""
    data = bytes(store.load())
    if len(data) != struct.calcsize(_FORMAT) or data[0] != _TAG:
        return None
    return struct.unpack(_FORMAT, data)[1]
