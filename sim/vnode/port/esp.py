# `esp` as on MicroPython's ESP32 port: the few calls a node's boot.py uses.
# mypy: ignore-errors
LOG_NONE = 0
LOG_ERROR = 1
LOG_WARNING = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_VERBOSE = 5


def osdebug(uart_no, level=LOG_ERROR):
    pass


def flash_size():
    return 4 * 1024 * 1024


def flash_user_start():
    return 0x200000


def flash_id():
    return 0x164020
