# The bridge's serial framing: what one end encodes the other decodes, and
# whatever else comes down the line is counted, never taken for a frame.
from firmware.lora import bridge_frame as bf
from firmware.proto.crc16 import crc16


def _feed_bytewise(reader, data):
    out = []
    for i in range(len(data)):
        out += reader.feed(data[i:i + 1])
    return out


def test_rx_frame_round_trips_with_delimiters_and_escapes_in_the_payload():
    payload = bytes([0xC0, 0xDB, 0xDC, 0xDD, 0x00, 0xC0])
    wire = bf.encode_rx(123456, 868100, 9, -117, -42, payload)
    assert wire[0] == bf.END and wire[-1] == bf.END
    assert bf.END not in wire[1:-1]
    bodies = bf.FrameReader().feed(wire)
    assert len(bodies) == 1
    rx = bf.decode(bodies[0])
    assert isinstance(rx, bf.Rx)
    assert (rx.bridge_ms, rx.freq_khz, rx.sf, rx.rssi_dbm, rx.snr_q, rx.frame) == \
        (123456, 868100, 9, -117, -42, payload)


def test_tx_result_and_hello_round_trip():
    reader = bf.FrameReader()
    wire = bf.encode_tx(7, 869525, 12, 14, b"\x60\x44\x12\x34") \
        + bf.encode_tx_result(7, bf.TX_REFUSED_DUTY, 0xFFFFFFFF, 1155) \
        + bf.encode_hello(5000, [(868100, 7), (868100, 12)])
    frames = [bf.decode(b) for b in _feed_bytewise(reader, wire)]
    tx, res, hello = frames
    assert (tx.tx_id, tx.freq_khz, tx.sf, tx.power_dbm, tx.frame) == \
        (7, 869525, 12, 14, b"\x60\x44\x12\x34")
    assert (res.tx_id, res.status, res.bridge_ms, res.airtime_ms) == \
        (7, bf.TX_REFUSED_DUTY, 0xFFFFFFFF, 1155)
    assert (hello.version, hello.bridge_ms, hello.receivers) == \
        (1, 5000, [(868100, 7), (868100, 12)])
    assert reader.counts() == {"garbage": 0, "bad crc": 0, "too long": 0}


def test_bridge_clock_wraps_at_32_bits():
    rx = bf.decode(bf.FrameReader().feed(bf.encode_rx((1 << 32) + 5, 868100, 7, 0, 0, b"x"))[0])
    assert rx.bridge_ms == 5


def test_signal_figures_are_clamped_to_their_fields():
    rx = bf.decode(bf.rx_body(0, 868100, 7, -40000, 300, b"x"))
    assert (rx.rssi_dbm, rx.snr_q) == (-32768, 127)


def test_body_layout_is_the_documented_one():
    body = bf.rx_body(0x01020304, 868100, 7, -100, -8, b"\xAA")
    assert body == b"\x01\x01\x02\x03\x04\x00\x0d\x3f\x04\x07\xff\x9c\xf8\xaa"
    wire = bf.slip(b"\x04")
    c = crc16(b"\x04")
    assert wire == bytes([0xC0, 0x04, c >> 8, c & 0xFF, 0xC0])


def test_noise_before_the_first_frame_is_garbage_and_the_frame_still_comes():
    reader = bf.FrameReader()
    bodies = reader.feed(b"\x11\x22\x33" + bf.encode_hello(1, []))
    assert len(bodies) == 1 and isinstance(bf.decode(bodies[0]), bf.Hello)
    assert reader.garbage == 1


def test_a_frame_with_a_bad_crc_is_counted_and_dropped():
    wire = bytearray(bf.encode_rx(1, 868100, 7, -80, 20, b"hello"))
    wire[5] ^= 0x01
    reader = bf.FrameReader()
    assert reader.feed(bytes(wire) + bf.encode_hello(2, [])) != []
    assert reader.bad_crc == 1 and reader.frames == 1


def test_a_bad_escape_or_a_stub_is_garbage():
    reader = bf.FrameReader()
    reader.feed(b"\xC0\x01\xDB\x05\x02\x03\xC0")
    reader.feed(b"\xC0\x01\xC0")
    assert reader.garbage == 2 and reader.frames == 0


def test_too_long_between_delimiters_is_counted_once_and_the_next_frame_comes():
    reader = bf.FrameReader()
    assert reader.feed(b"\xC0" + b"\x55" * 1000) == []
    bodies = reader.feed(bf.encode_hello(3, []))
    assert reader.too_long == 1 and len(bodies) == 1


def test_radio_frames_longer_than_255_bytes_are_refused_at_both_ends():
    for encode in (lambda f: bf.rx_body(0, 868100, 7, 0, 0, f),
                   lambda f: bf.tx_body(0, 869525, 7, 14, f)):
        try:
            encode(b"x" * 256)
            raise AssertionError("encoded a 256-byte radio frame")
        except bf.FrameError as e:
            assert e.reason == "too long"
    # The longest legal RX frame passes the reader.
    wire = bf.encode_rx(0, 868100, 7, 0, 0, b"\xC0" * 255)
    assert len(bf.FrameReader().feed(wire)) == 1


def test_decode_names_what_is_wrong():
    cases = [(b"\x09abc", "unknown kind"), (b"\x03\x00", "bad length"),
             (b"\x01" + b"\x00" * 12, "bad length"),
             (b"\x04\x01\x00\x00\x00\x00\x02", "bad length"),
             (b"", "bad length")]
    for body, reason in cases:
        try:
            bf.decode(body)
            raise AssertionError("decoded %r" % body)
        except bf.FrameError as e:
            assert e.reason == reason, (body, e.reason)
