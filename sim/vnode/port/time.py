# `time` as on the ESP32: its epoch is 2000-01-01 and time() is a whole
# number of seconds (the WebAssembly port counts from 1970 in floats). The
# clock itself is the VM's, which the virtual node's RTC drives.
# mypy: ignore-errors
import utime as _t
from utime import *  # noqa: F403 - ticks_*, sleep*: the VM's own

_EPOCH = 946684800  # 2000-01-01 in unix seconds


def time():
    return int(_t.time()) - _EPOCH


def time_ns():
    return _t.time_ns() - _EPOCH * 1000000000


def gmtime(secs=None):
    return _t.gmtime((time() if secs is None else int(secs)) + _EPOCH)


localtime = gmtime


def mktime(t):
    return _t.mktime(t) - _EPOCH
