# The payloads of street lighting: a light node's presence event and status,
# and the gateway's commands to light nodes. Apart from the bin report
# (firmware/waste/payload.py) so that neither node loads the other's.
# docs/protocol.md has every byte. Version byte first (firmware/proto/payload.py),
# big-endian.
import struct

from firmware.proto.payload import VERSION, DecodeError, check_size
from firmware.proto.presence import (  # noqa: F401 (the flags, for whoever reads events)
    PRESENCE_DIR_DOWN,
    PRESENCE_DIR_UP,
    PRESENCE_FLAGS_KNOWN,
    PRESENCE_SOURCE_PIR,
    PRESENCE_SOURCE_RADAR,
)

# --- presence event: node -> gateway, POST /p/<id> ----------------------
# version, flags (firmware/proto/presence.py), seq (u16), time (u32),
# count, speed (0.1 m/s), level %
PRESENCE_FORMAT = ">BBHIBBB"
PRESENCE_SIZE = 11
SPEED_UNKNOWN = 0  # speed byte is in 0.1 m/s steps; 0 means not measured

# --- brighten: gateway -> light node(s), POST /c ------------------------
# version, level %, hold s (u16), command id (u16), target count, then
# count x u16 short addresses. No targets: the node it is sent to.
BRIGHTEN_HEAD = ">BBHHB"
BRIGHTEN_HEAD_SIZE = 7
BRIGHTEN_MAX_TARGETS = 32

# --- zone profile: gateway -> light node, POST /z -----------------------
# version, idle %, active %, hold s (u16), ramp up (0.1 s), ramp down (s),
# safe idle %, offline after (min), revision (u16)
PROFILE_FORMAT = ">BBBHBBBBH"
PROFILE_SIZE = 11
# Pushed protected with the pole's own OSCORE context, the profile may be
# followed by its zone's key: gid length (1-4), gid, the 16-byte key.
ZONE_KEY_LEN = 16
ZONE_GID_MAX = 4

# --- status: light node -> gateway, POST /s/<id> ------------------------
# version, flags, seq (u16), time (u32), level %, energy (0.1 Wh, u32),
# ambient lux (u16)
STATUS_FORMAT = ">BBHIBIH"
STATUS_SIZE = 15
STATUS_NIGHT = 0x01  # the lamp is on its night schedule
STATUS_OFFLINE = 0x02  # no contact with the gateway: the safe profile runs
STATUS_FLAGS_KNOWN = 0x03
LUX_UNKNOWN = 0xFFFF


def _version(data, size_ok, what):
    if not size_ok:
        raise DecodeError("%s has a wrong length: %d bytes" % (what, len(data)))
    if data[0] != VERSION:
        raise DecodeError("%s version %d is not supported" % (what, data[0]))


def _pct(value, what):
    if not 0 <= value <= 100:
        raise DecodeError("%s %d is outside 0..100 %%" % (what, value))


class Brighten:
    """Go to `level_pct` now and hold it `hold_s` after the last command."""

    def __init__(self, command_id, level_pct, hold_s, targets=()):
        self.command_id = command_id
        self.level_pct = level_pct
        self.hold_s = hold_s
        self.targets = tuple(targets)  # short addresses; empty: the receiver

    def __eq__(self, other):
        return isinstance(other, Brighten) and self.as_tuple() == other.as_tuple()

    def as_tuple(self):
        return (self.command_id, self.level_pct, self.hold_s, self.targets)

    def __repr__(self):
        return "Brighten(command_id=%r, level_pct=%r, hold_s=%r, targets=%r)" % self.as_tuple()

    def applies_to(self, addr):
        return not self.targets or addr in self.targets


def encode_brighten(c):
    if len(c.targets) > BRIGHTEN_MAX_TARGETS:
        raise ValueError("at most %d targets in one command" % BRIGHTEN_MAX_TARGETS)
    if not 0 <= c.level_pct <= 100 or not 0 <= c.hold_s <= 0xFFFF:
        raise ValueError("level or hold out of range")
    out = struct.pack(BRIGHTEN_HEAD, VERSION, int(c.level_pct), c.hold_s,
                      c.command_id & 0xFFFF, len(c.targets))
    for a in c.targets:
        out += struct.pack(">H", a)
    return out


def decode_brighten(data):
    n = len(data) - BRIGHTEN_HEAD_SIZE
    _version(data, n >= 0 and n % 2 == 0, "brighten command")
    _, level, hold, cid, count = struct.unpack(BRIGHTEN_HEAD, data[:BRIGHTEN_HEAD_SIZE])
    if count * 2 != n or count > BRIGHTEN_MAX_TARGETS:
        raise DecodeError("brighten command says %d targets but carries %d bytes of them"
                          % (count, n))
    _pct(level, "brighten level")
    targets = [struct.unpack(">H", data[i:i + 2])[0]
               for i in range(BRIGHTEN_HEAD_SIZE, len(data), 2)]
    return Brighten(cid, level, hold, targets)


class Profile:
    """A zone's settings as a node runs them."""

    def __init__(self, revision, idle_pct, active_pct, hold_s, ramp_up_ds, ramp_down_s,
                 safe_idle_pct, offline_after_min):
        self.revision = revision
        self.idle_pct = idle_pct
        self.active_pct = active_pct
        self.hold_s = hold_s
        self.ramp_up_ds = ramp_up_ds  # tenths of a second to full: fast
        self.ramp_down_s = ramp_down_s  # seconds back to idle: slow, unnoticed
        self.safe_idle_pct = safe_idle_pct  # idle level while the gateway is away
        self.offline_after_min = offline_after_min

    def as_tuple(self):
        return (self.revision, self.idle_pct, self.active_pct, self.hold_s, self.ramp_up_ds,
                self.ramp_down_s, self.safe_idle_pct, self.offline_after_min)

    def __eq__(self, other):
        return isinstance(other, Profile) and self.as_tuple() == other.as_tuple()

    def __repr__(self):
        return "Profile%r" % (self.as_tuple(),)


def encode_profile(p):
    for v in (p.idle_pct, p.active_pct, p.safe_idle_pct):
        if not 0 <= v <= 100:
            raise ValueError("levels are 0..100 %")
    if p.idle_pct > p.active_pct or p.safe_idle_pct > p.active_pct:
        raise ValueError("idle levels must not be above the active level")
    return struct.pack(PROFILE_FORMAT, VERSION, int(p.idle_pct), int(p.active_pct), p.hold_s,
                       p.ramp_up_ds, p.ramp_down_s, int(p.safe_idle_pct),
                       p.offline_after_min, p.revision & 0xFFFF)


def decode_profile(data):
    _version(data, len(data) == PROFILE_SIZE, "zone profile")
    _, idle, active, hold, up, down, safe, offline, rev = struct.unpack(PROFILE_FORMAT, data)
    for v, what in ((idle, "idle level"), (active, "active level"), (safe, "safe idle level")):
        _pct(v, what)
    if idle > active or safe > active:
        raise DecodeError("zone profile has an idle level above its active level")
    if offline == 0:
        raise DecodeError("zone profile says offline after 0 minutes")
    return Profile(rev, idle, active, hold, up, down, safe, offline)


def encode_zone_key(gid, key):
    """The zone key part of a profile push (gid, key: bytes)."""
    if not 1 <= len(gid) <= ZONE_GID_MAX or len(key) != ZONE_KEY_LEN:
        raise ValueError("a zone key is a 1-4 byte gid and 16 bytes")
    return bytes((len(gid),)) + bytes(gid) + bytes(key)


def split_profile_push(data):
    """(profile bytes, (gid, key) or None) of a POST /z payload: the profile,
    and the zone key when one follows it."""
    data = bytes(data)
    if len(data) <= PROFILE_SIZE:
        return data, None
    s = data[PROFILE_SIZE]
    if not 1 <= s <= ZONE_GID_MAX or len(data) != PROFILE_SIZE + 1 + s + ZONE_KEY_LEN:
        raise DecodeError("zone profile has a wrong length: %d bytes" % len(data))
    at = PROFILE_SIZE + 1
    return data[:PROFILE_SIZE], (data[at:at + s], data[at + s:])


class Status:
    """A light node's periodic report: what it does and what it used."""

    def __init__(self, seq, time, level_pct, energy_dwh, flags=0, lux=None):
        self.seq = seq
        self.time = time
        self.level_pct = level_pct
        self.energy_dwh = energy_dwh  # tenths of a watt-hour since power-on
        self.flags = flags
        self.lux = lux

    def as_tuple(self):
        return (self.seq, self.time, self.level_pct, self.energy_dwh, self.flags, self.lux)

    def __eq__(self, other):
        return isinstance(other, Status) and self.as_tuple() == other.as_tuple()

    def __repr__(self):
        return "Status%r" % (self.as_tuple(),)


def encode_status(s):
    if s.flags & ~STATUS_FLAGS_KNOWN or not 0 <= s.level_pct <= 100:
        raise ValueError("status flags or level out of range")
    lux = LUX_UNKNOWN if s.lux is None else min(LUX_UNKNOWN - 1, max(0, int(s.lux)))
    return struct.pack(STATUS_FORMAT, VERSION, s.flags, s.seq & 0xFFFF, s.time,
                       int(s.level_pct), min(0xFFFFFFFF, int(s.energy_dwh)), lux)


def decode_status(data):
    _version(data, len(data) == STATUS_SIZE, "light status")
    _, flags, seq, t, level, energy, lux = struct.unpack(STATUS_FORMAT, data)
    if flags & ~STATUS_FLAGS_KNOWN:
        raise DecodeError("light status has reserved flag bits set: 0x%02x" % flags)
    _pct(level, "light status level")
    return Status(seq, t, level, energy, flags, None if lux == LUX_UNKNOWN else lux)


class PresenceEvent:
    """Someone was detected at a light pole."""

    def __init__(self, seq, time, count, level_pct, speed_mps=None, flags=PRESENCE_SOURCE_PIR):
        self.seq = seq
        self.time = time
        self.count = count  # detections since the previous event (saturates at 255)
        self.level_pct = level_pct  # the level the node switched its own LED to
        self.speed_mps = speed_mps
        self.flags = flags

    def __eq__(self, other):
        return isinstance(other, PresenceEvent) and self.as_tuple() == other.as_tuple()

    def as_tuple(self):
        return (self.seq, self.time, self.count, self.level_pct, self.speed_mps, self.flags)

    def __repr__(self):
        return "PresenceEvent(seq=%r, time=%r, count=%r, level_pct=%r, speed_mps=%r, " \
            "flags=%r)" % self.as_tuple()


def encode_presence(e):
    if not 0 <= e.seq <= 0xFFFF:
        raise ValueError("seq out of range: %r" % e.seq)
    if not 0 <= e.time <= 0xFFFFFFFF:
        raise ValueError("time out of range: %r" % e.time)
    if e.flags & ~PRESENCE_FLAGS_KNOWN:
        raise ValueError("unknown flag bits: 0x%02x" % e.flags)
    if not 0 <= e.level_pct <= 100:
        raise ValueError("level out of range: %r" % e.level_pct)
    count = min(255, max(0, e.count))
    speed = SPEED_UNKNOWN
    if e.speed_mps is not None:
        speed = min(255, max(1, int(e.speed_mps * 10 + 0.5)))
    return struct.pack(PRESENCE_FORMAT, VERSION, e.flags, e.seq, e.time, count, speed,
                       int(e.level_pct))


def decode_presence(data):
    check_size(data, PRESENCE_SIZE, "presence event")
    _, flags, seq, t, count, speed, level = struct.unpack(PRESENCE_FORMAT, data)
    if flags & ~PRESENCE_FLAGS_KNOWN:
        raise DecodeError("presence event has reserved flag bits set: 0x%02x" % flags)
    if flags & PRESENCE_DIR_UP and flags & PRESENCE_DIR_DOWN:
        raise DecodeError("presence event says both directions at once")
    if level > 100:
        raise DecodeError("presence event level %d is above 100 %%" % level)
    return PresenceEvent(seq, t, count, level,
                         None if speed == SPEED_UNKNOWN else speed / 10, flags)
