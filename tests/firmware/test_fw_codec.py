# Codec tests that run in the MicroPython VM as well as CPython (no pytest here).
from firmware import codec


def _raises(fn, *args):
    try:
        fn(*args)
    except codec.DecodeError:
        return True
    return False


def test_bin_report_is_twelve_bytes_and_round_trips():
    r = codec.BinReport(513, 1790000000, 72.5, -5, 3610, 3,
                        codec.BIN_FLAG_THRESHOLD | codec.BIN_FLAG_BOOT)
    data = codec.encode_bin_report(r)
    assert len(data) == 12
    assert data[0] == codec.VERSION
    assert codec.decode_bin_report(data) == r


def test_bin_report_byte_layout_matches_protocol_doc():
    r = codec.BinReport(0x0102, 0x6A000000, 50.0, 21, 3600, None, codec.BIN_FLAG_THRESHOLD)
    data = codec.encode_bin_report(r)
    assert data == bytes([1, 0x01, 0x01, 0x02, 0x6A, 0, 0, 0, 100, 21, 160, 0xFF])


def test_missing_reading_sets_sensor_fault():
    data = codec.encode_bin_report(codec.BinReport(1, 0, None))
    assert data[1] & codec.BIN_FLAG_SENSOR_FAULT
    back = codec.decode_bin_report(data)
    assert back.fill_pct is None and back.temp_c is None and back.battery_mv is None


def test_truncated_and_padded_bin_reports_are_rejected():
    data = codec.encode_bin_report(codec.BinReport(7, 1, 10.0))
    for n in range(len(data)):
        assert _raises(codec.decode_bin_report, data[:n])
    assert _raises(codec.decode_bin_report, data + b"\x00")


def test_corrupted_bin_report_fields_are_rejected():
    good = bytearray(codec.encode_bin_report(codec.BinReport(7, 1, 10.0)))
    bad_version = bytearray(good)
    bad_version[0] = 2
    bad_fill = bytearray(good)
    bad_fill[8] = 201
    bad_tilt = bytearray(good)
    bad_tilt[11] = 181
    for bad in (bad_version, bad_fill, bad_tilt):
        assert _raises(codec.decode_bin_report, bytes(bad))


def test_presence_event_round_trips():
    e = codec.PresenceEvent(65535, 1790000123, 3, 100, 1.4,
                            codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP)
    data = codec.encode_presence(e)
    assert len(data) == codec.PRESENCE_SIZE
    assert codec.decode_presence(data) == e


def test_presence_event_with_both_directions_is_rejected():
    data = bytearray(codec.encode_presence(codec.PresenceEvent(1, 1, 1, 100)))
    data[1] |= codec.PRESENCE_DIR_UP | codec.PRESENCE_DIR_DOWN
    assert _raises(codec.decode_presence, bytes(data))


def test_random_bytes_never_crash_the_decoders():
    # A seeded generator instead of hypothesis, which MicroPython lacks.
    x = 1
    for _ in range(2000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        n = x % 14
        buf = bytearray()
        y = x
        for _ in range(n):
            y = (y * 1103515245 + 12345) & 0x7FFFFFFF
            buf.append(y >> 16 & 0xFF)
        if n and x & 1:
            buf[0] = codec.VERSION
        for decode, encode in ((codec.decode_bin_report, codec.encode_bin_report),
                               (codec.decode_presence, codec.encode_presence)):
            try:
                value = decode(bytes(buf))
            except codec.DecodeError:
                continue
            assert encode(value) == bytes(buf)
