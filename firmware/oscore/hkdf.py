# HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) on hashlib.sha256, which
# every MicroPython port has. The node does not carry micropython-lib's hmac:
# its flash holds what firmware/manifest.py lists, and this is all OSCORE's
# key derivation needs.
import hashlib

_BLOCK = 64  # SHA-256's block size
HASH_LEN = 32


def _xor_pad(key, pad):
    out = bytearray(_BLOCK)
    for i in range(_BLOCK):
        out[i] = pad ^ (key[i] if i < len(key) else 0)
    return bytes(out)


def hmac_sha256(key, msg):
    key = bytes(key)
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    inner = hashlib.sha256(_xor_pad(key, 0x36))
    inner.update(msg)
    outer = hashlib.sha256(_xor_pad(key, 0x5C))
    outer.update(inner.digest())
    return outer.digest()


def extract(salt, ikm):
    """HKDF-Extract: the pseudorandom key. An empty salt is HashLen zeros."""
    return hmac_sha256(salt if salt else bytes(HASH_LEN), ikm)


def expand(prk, info, length):
    """HKDF-Expand: `length` bytes of output keying material."""
    if length > 255 * HASH_LEN:
        raise ValueError("HKDF output too long")
    out = b""
    block = b""
    i = 1
    while len(out) < length:
        block = hmac_sha256(prk, block + bytes(info) + bytes((i,)))
        out += block
        i += 1
    return out[:length]


def hkdf(salt, ikm, info, length):
    return expand(extract(salt, ikm), info, length)
