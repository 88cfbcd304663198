# `ds18x20` as in MicroPython's ESP32 image (micropython-lib's driver API),
# talking to the virtual board's DS18B20 through the onewire module.
# mypy: ignore-errors
import binascii

import _vnode as _v
from onewire import OneWireError


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in (0x10, 0x22, 0x28)]

    def convert_temp(self):
        if not _v.ow_convert(self.ow._id):
            raise OneWireError

    def read_scratch(self, rom):
        data = _v.ow_scratch(self.ow._id)
        if data is None:
            raise OneWireError
        buf = bytearray(binascii.unhexlify(data))
        if self.ow.crc8(buf):
            raise Exception("CRC error")
        return buf

    def write_scratch(self, rom, buf):
        _v.ow_write_scratch(self.ow._id, binascii.hexlify(bytes(buf)).decode())

    def read_temp(self, rom):
        buf = self.read_scratch(rom)
        t = buf[1] << 8 | buf[0]
        if t & 0x8000:
            t = -((t ^ 0xFFFF) + 1)
        return t / 16
