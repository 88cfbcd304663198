# `ntptime` as on MicroPython's ESP32 port: sets the RTC from the network's
# time (the host's clock), which needs the station to have joined.
# mypy: ignore-errors
import time as _time

import _vnode as _v

host = "pool.ntp.org"
timeout = 1


def time():
    settime()
    return _time.time()


def settime():
    if not _v.ntp_set():
        raise OSError(-202)  # the NTP server's name does not resolve without a network
