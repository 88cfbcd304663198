# Lighting payloads, in the MicroPython VM as well as CPython.
from firmware.codec import DecodeError
from firmware.lighting import payload as lc


def _rejects(fn, data):
    try:
        fn(data)
    except DecodeError:
        return True
    return False


def test_brighten_round_trips_with_and_without_targets():
    for targets in ((), (1, 2, 65534), tuple(range(1, 33))):
        c = lc.Brighten(513, 100, 90, targets)
        data = lc.encode_brighten(c)
        assert len(data) == 7 + 2 * len(targets)
        assert lc.decode_brighten(data) == c


def test_brighten_byte_layout():
    data = lc.encode_brighten(lc.Brighten(0x0102, 80, 60, (7, 9)))
    assert data == bytes([1, 80, 0, 60, 1, 2, 2, 0, 7, 0, 9])


def test_brighten_applies_to_its_targets_or_to_the_receiver():
    assert lc.Brighten(1, 100, 60).applies_to(42)
    assert lc.Brighten(1, 100, 60, (3, 42)).applies_to(42)
    assert not lc.Brighten(1, 100, 60, (3, 4)).applies_to(42)


def test_bad_brighten_commands_are_rejected():
    good = lc.encode_brighten(lc.Brighten(1, 100, 60, (5,)))
    assert _rejects(lc.decode_brighten, good[:-1])
    assert _rejects(lc.decode_brighten, good[:6])
    assert _rejects(lc.decode_brighten, bytes([1, 101]) + good[2:])
    assert _rejects(lc.decode_brighten, good[:6] + bytes([3]) + good[7:])
    assert _rejects(lc.decode_brighten, bytes([2]) + good[1:])


def test_profile_round_trips_and_refuses_idle_above_active():
    p = lc.Profile(7, 40, 100, 60, 5, 30, 60, 15)
    data = lc.encode_profile(p)
    assert len(data) == lc.PROFILE_SIZE and lc.decode_profile(data) == p
    bad = bytearray(data)
    bad[1] = 100
    bad[2] = 50
    assert _rejects(lc.decode_profile, bytes(bad))
    try:
        lc.encode_profile(lc.Profile(1, 90, 50, 60, 5, 30, 60, 15))
    except ValueError:
        pass
    else:
        raise AssertionError("encoded an idle level above the active level")


def test_status_round_trips():
    s = lc.Status(9, 1790000000, 40, 123456, lc.STATUS_NIGHT | lc.STATUS_OFFLINE, 3)
    data = lc.encode_status(s)
    assert len(data) == lc.STATUS_SIZE and lc.decode_status(data) == s
    assert lc.decode_status(lc.encode_status(lc.Status(1, 0, 0, 0))).lux is None
    assert _rejects(lc.decode_status, data[:-1])
