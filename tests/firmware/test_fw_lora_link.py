# Link feedback and the gateway's choice of spreading factor.
from firmware import codec
from firmware.lora import link as lora_link
from firmware.proto.crc16 import crc16


def test_feedback_is_eight_bytes_and_round_trips():
    data = lora_link.encode_feedback(-12, 9, lora_link.node_tag("B0001"), 1790000000)
    assert len(data) == 8
    fb = lora_link.decode_feedback(data)
    assert (fb.snr_db, fb.sf, fb.tag, fb.time) == (-12, 9, crc16(b"B0001"), 1790000000)


def test_feedback_snr_is_clamped_to_a_byte():
    assert lora_link.decode_feedback(lora_link.encode_feedback(-500, 7, 1, 0)).snr_db == -128
    assert lora_link.decode_feedback(lora_link.encode_feedback(300, 7, 1, 0)).snr_db == 127


def test_bad_feedback_raises_decode_error():
    good = lora_link.encode_feedback(0, 7, 1, 0)
    for bad in (b"", good[:7], good + b"\x00", good[:1] + b"\x06" + good[2:],
                good[:1] + b"\x0d" + good[2:]):
        try:
            lora_link.decode_feedback(bad)
        except codec.DecodeError:
            continue
        raise AssertionError("accepted %r" % bad)


def test_node_tags_tell_neighbours_apart():
    assert lora_link.node_tag("B0001") != lora_link.node_tag("B0002")
    assert lora_link.node_tag("B0001") == crc16(b"B0001")


ALL = [7, 8, 9, 10, 11, 12]


def test_adr_lowers_sf_per_three_db_of_margin():
    # SF12 needs -20 dB; with the 10 dB margin, -10 dB is just enough.
    assert lora_link.adr_sf([-100], 12, ALL) == 12
    assert lora_link.adr_sf([-70], 12, ALL) == 11
    assert lora_link.adr_sf([-71, -69, -100, -120], 12, ALL) == 11  # the best of the last
    assert lora_link.adr_sf([100], 12, ALL) == 7  # never below SF7


def test_adr_raises_sf_when_the_margin_is_negative():
    # SF7 needs -7.5 dB, plus 10 dB margin: 2.5 dB. At 2.4 dB: one step up.
    assert lora_link.adr_sf([24], 7, ALL) == 8
    assert lora_link.adr_sf([-35], 7, ALL) == 9  # 6 dB short: two steps
    assert lora_link.adr_sf([-36], 7, ALL) == 10  # 6.1 dB short: three
    assert lora_link.adr_sf([-500], 7, ALL) == 12


def test_adr_keeps_to_the_sfs_the_bridge_listens_on():
    assert lora_link.adr_sf([100], 12, [9, 12]) == 9
    assert lora_link.adr_sf([-70], 12, [7, 10]) == 10
    assert lora_link.adr_sf([-500], 7, [7, 8]) == 8
    assert lora_link.adr_sf([], 9, ALL) == 9  # nothing heard yet: unchanged
