# The few CBOR (RFC 8949) items OSCORE puts into its key derivation's info
# and its external AAD: unsigned and negative integers, byte strings, text
# strings, arrays and null. Encoding only: the node never has to read CBOR.


def _head(major, n):
    m = major << 5
    if n < 24:
        return bytes((m | n,))
    if n < 0x100:
        return bytes((m | 24, n))
    if n < 0x10000:
        return bytes((m | 25, n >> 8, n & 0xFF))
    if n < 0x100000000:
        return bytes((m | 26, n >> 24, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))
    raise ValueError("CBOR integer too large")


def encode(value):
    if value is None:
        return b"\xf6"
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        if value >= 0:
            return _head(0, value)
        return _head(1, -1 - value)
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, str):
        data = value.encode()
        return _head(3, len(data)) + data
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError("cannot encode %s as CBOR" % type(value).__name__)
