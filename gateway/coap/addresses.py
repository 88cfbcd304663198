"""Socket addresses as the gateway keeps them."""

from __future__ import annotations

import ipaddress

Address = tuple[str, int]


def plain_address(sockaddr: tuple[object, ...]) -> Address:
    """(host, port) with an IPv4-mapped IPv6 host written as IPv4."""
    host, port = str(sockaddr[0]), int(str(sockaddr[1]))
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host, port
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped), port
    return host, port
