# `socket` as on MicroPython's ESP32 port, for UDP: datagrams go over real
# UDP through the virtual node's host, and only while its station has joined
# the street's Wi-Fi.
# mypy: ignore-errors
import binascii

import _vnode as _v

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOL_SOCKET = 0xFFF
SO_REUSEADDR = 4
SO_BROADCAST = 32
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IP_ADD_MEMBERSHIP = 0x400
TCP_NODELAY = 1

_EAI_FAIL = -202  # lwIP: the name could not be resolved
_EOPNOTSUPP = 95


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    ip = _v.resolve(str(host))
    if not ip:
        raise OSError(_EAI_FAIL)
    return [(AF_INET, type or SOCK_STREAM, proto, "", (ip, port))]


class socket:
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        if af != AF_INET or type != SOCK_DGRAM:
            # The virtual node's network carries UDP only.
            raise OSError(_EOPNOTSUPP)
        self._sid = _v.sock_open()
        self._timeout_ms = -1  # blocking
        self._peer = None

    def bind(self, addr):
        err = _v.sock_bind(self._sid, addr[0] or "0.0.0.0", int(addr[1]))
        if err:
            raise OSError(err)

    def connect(self, addr):
        self._peer = addr

    def sendto(self, data, addr):
        err = _v.sock_sendto(self._sid, binascii.hexlify(bytes(data)).decode(), addr[0],
                             int(addr[1]))
        if err:
            raise OSError(err)
        return len(data)

    def send(self, data):
        if self._peer is None:
            raise OSError(128)  # ENOTCONN
        return self.sendto(data, self._peer)

    write = send

    def recvfrom(self, bufsize):
        got = _v.sock_recv(self._sid, self._timeout_ms)
        if isinstance(got, int):
            raise OSError(got)
        ip, port, data = got.split(" ")
        return binascii.unhexlify(data)[:bufsize], (ip, int(port))

    def recv(self, bufsize):
        return self.recvfrom(bufsize)[0]

    def read(self, size=-1):
        return self.recv(1500 if size < 0 else size)

    def settimeout(self, value):
        self._timeout_ms = -1 if value is None else int(value * 1000)

    def setblocking(self, flag):
        self._timeout_ms = -1 if flag else 0

    def setsockopt(self, level, optname, value):
        pass

    def close(self):
        _v.sock_close(self._sid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
