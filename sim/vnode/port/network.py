# `network` as on MicroPython's ESP32 port: the station joins the virtual
# street's access points (sim/vnode/network.mjs) by SSID and password.
# mypy: ignore-errors
import binascii
import json

import _vnode as _v

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
MODE_11B = 1
MODE_11G = 2
MODE_11N = 4

_hostname = "esp32"
_ADDR = ("10.42.0.23", "255.255.255.0", "10.42.0.1", "10.42.0.1")


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


def country(code=None):
    return "EU" if code is None else None


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        self._if = interface_id
        self._ap_active = False

    def active(self, is_active=None):
        if self._if == AP_IF:
            if is_active is not None:
                self._ap_active = bool(is_active)
            return self._ap_active
        if is_active is None:
            return _v.wlan_active(-1)
        _v.wlan_active(1 if is_active else 0)

    def connect(self, ssid=None, key=None, *, bssid=None):
        if self._if != STA_IF:
            raise OSError("AP can't connect")
        err = _v.wlan_connect("" if ssid is None else ssid, "" if key is None else key)
        if err:
            raise OSError(err)

    def disconnect(self):
        _v.wlan_disconnect()

    def isconnected(self):
        if self._if == AP_IF:
            return False
        return _v.wlan_status() == STAT_GOT_IP

    def status(self, param=None):
        if param is None:
            return _v.wlan_status() if self._if == STA_IF else STAT_IDLE
        if param == "rssi":
            rssi = _v.wlan_rssi()
            if rssi is None:
                raise OSError("STA is not connected")
            return rssi
        if param == "stations":
            return []
        raise ValueError("unknown status param")

    def scan(self):
        found = _v.wlan_scan()
        if found is None:
            raise OSError("STA must be active")
        out = []
        for ssid, rssi, channel in json.loads(found):
            out.append((ssid.encode(), b"\x24\x0a\xc4\x00\x00\x01", channel, rssi, AUTH_WPA2_PSK,
                        False))
        return out

    def ifconfig(self, config=None):
        if config is not None:
            return None
        if self._if == STA_IF and _v.wlan_status() != STAT_GOT_IP:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return _ADDR

    def config(self, *args, **kwargs):
        if kwargs:
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        name = args[0]
        if name == "mac":
            return binascii.unhexlify(_v.wlan_mac())
        if name in ("ssid", "essid"):
            return _v.wlan_ssid()
        if name in ("hostname", "dhcp_hostname"):
            return _hostname
        if name == "channel":
            return 1
        if name == "txpower":
            return 20
        if name == "pm":
            return WLAN.PM_PERFORMANCE
        if name == "reconnects":
            return -1
        raise ValueError("unknown config param")
