# Airtime against published figures for 125 kHz, CR 4/5, explicit header, CRC.
from firmware.lora.airtime import airtime_us


def _ms(n, sf):
    return airtime_us(n, sf) / 1000


def test_twelve_byte_frame():
    assert abs(_ms(12, 7) - 41.216) < 0.01
    assert abs(_ms(12, 9) - 144.4) < 0.1
    assert abs(_ms(12, 12) - 1155.1) < 0.1


def test_twenty_five_byte_frame():
    assert abs(_ms(25, 7) - 61.7) < 0.1
    assert abs(_ms(25, 12) - 1482.8) < 0.1


def test_airtime_grows_with_payload_and_spreading_factor():
    last = 0
    for sf in range(7, 13):
        t = airtime_us(20, sf)
        assert t > last
        last = t
    assert airtime_us(51, 7) > airtime_us(50, 7) - 1
