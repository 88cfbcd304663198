# `onewire` as on MicroPython's ESP32 port, for the devices the virtual
# board has on a line: enough for ds18x20 (reset, scan, crc8).
# mypy: ignore-errors
import binascii

import _vnode as _v


class OneWireError(Exception):
    pass


class OneWire:
    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, pin):
        self.pin = pin
        self._id = pin._id if hasattr(pin, "_id") else int(pin)

    def reset(self, required=False):
        present = bool(_v.ow_scan(self._id))
        if required and not present:
            raise OneWireError
        return present

    def scan(self):
        found = _v.ow_scan(self._id)
        return [bytearray(binascii.unhexlify(found))] if found else []

    def crc8(self, data):
        crc = 0
        for b in data:
            for _ in range(8):
                mix = (crc ^ b) & 1
                crc >>= 1
                if mix:
                    crc ^= 0x8C
                b >>= 1
        return crc
