# CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection,
# no final xor): the check on the radio bridge's serial frames and the tag
# that tells a node its own acknowledgements from its neighbours'.

_POLY = 0x1021


def crc16(data, crc=0xFFFF):
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
