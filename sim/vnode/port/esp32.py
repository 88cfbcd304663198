# `esp32` as on MicroPython's ESP32 port: NVS (kept in the chip's flash for
# the life of the virtual node; what is not committed is lost at a reset),
# the wake sources and the chip's temperature.
# mypy: ignore-errors
import binascii

import _vnode as _v

HEAP_DATA = 4
HEAP_EXEC = 1
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

_NOT_FOUND = (-4354, "ESP_ERR_NVS_NOT_FOUND")
_INVALID_LENGTH = (-4364, "ESP_ERR_NVS_INVALID_LENGTH")
_KEY_TOO_LONG = (-4362, "ESP_ERR_NVS_KEY_TOO_LONG")


class NVS:
    def __init__(self, namespace):
        if len(namespace) > 15:
            raise OSError(*_KEY_TOO_LONG)
        self._ns = namespace

    def _key(self, key):
        if len(key) > 15:
            raise OSError(*_KEY_TOO_LONG)
        return key

    def set_i32(self, key, value):
        _v.nvs_set(self._ns, self._key(key), "i32", str(int(value)))

    def get_i32(self, key):
        value = _v.nvs_get(self._ns, self._key(key), "i32")
        if value is None:
            raise OSError(*_NOT_FOUND)
        return int(value)

    def set_blob(self, key, value):
        _v.nvs_set(self._ns, self._key(key), "blob", binascii.hexlify(bytes(value)).decode())

    def get_blob(self, key, buffer):
        value = _v.nvs_get(self._ns, self._key(key), "blob")
        if value is None:
            raise OSError(*_NOT_FOUND)
        data = binascii.unhexlify(value)
        if len(buffer) < len(data):
            raise OSError(*_INVALID_LENGTH)
        buffer[:len(data)] = data
        return len(data)

    def erase_key(self, key):
        if not _v.nvs_erase(self._ns, self._key(key)):
            raise OSError(*_NOT_FOUND)

    def commit(self):
        _v.nvs_commit(self._ns)


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def wake_on_touch(wake):
    pass


def wake_on_ulp(wake):
    pass


def gpio_deep_sleep_hold(enable):
    pass


def mcu_temperature():
    return 41


def raw_temperature():
    return 106


def idf_heap_info(capabilities):
    return [(327680, 180000, 110000, 170000)]
