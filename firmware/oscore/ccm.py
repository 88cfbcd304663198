# AES-CCM (RFC 3610) as COSE algorithm 10, AES-CCM-16-64-128: a 16-byte key,
# a 13-byte nonce (so L = 2: messages up to 65535 bytes) and an 8-byte tag.
# Built on the caller's block cipher, an object whose encrypt(block) turns
# 16 bytes into 16 (hal.aes(key): cryptolib's AES-ECB on the ESP32). CCM
# needs the forward cipher only: CTR for the data, CBC-MAC for the tag.
TAG_LEN = 8
NONCE_LEN = 13
KEY_LEN = 16
_L = 15 - NONCE_LEN  # 2 bytes of length field
_MAX_LEN = (1 << (8 * _L)) - 1


class TagMismatch(ValueError):
    """The ciphertext, its tag, the AAD or the nonce is not what was sent."""


def _xor_into(acc, data, start):
    # acc ^= data[start:start + 16], zero-padded
    n = min(16, len(data) - start)
    for i in range(n):
        acc[i] ^= data[start + i]


def _mac(cipher, nonce, aad, msg):
    flags = (0x40 if aad else 0) | (((TAG_LEN - 2) // 2) << 3) | (_L - 1)
    block = bytearray(bytes((flags,)) + nonce + bytes((len(msg) >> 8, len(msg) & 0xFF)))
    x = bytearray(cipher.encrypt(bytes(block)))
    if aad:
        if len(aad) >= 0xFF00:
            raise ValueError("CCM AAD too long")
        a = bytes((len(aad) >> 8, len(aad) & 0xFF)) + bytes(aad)
        for i in range(0, len(a), 16):
            _xor_into(x, a, i)
            x = bytearray(cipher.encrypt(bytes(x)))
    for i in range(0, len(msg), 16):
        _xor_into(x, msg, i)
        x = bytearray(cipher.encrypt(bytes(x)))
    return bytes(x[:TAG_LEN])


def _ctr(cipher, nonce, data, first):
    # data XOR the key stream from counter `first` on; counter 0 is the tag's.
    out = bytearray(data)
    a = bytearray(16)
    a[0] = _L - 1
    for i in range(NONCE_LEN):
        a[1 + i] = nonce[i]
    counter = first
    for i in range(0, len(out), 16):
        a[14] = counter >> 8
        a[15] = counter & 0xFF
        s = cipher.encrypt(bytes(a))
        for j in range(min(16, len(out) - i)):
            out[i + j] ^= s[j]
        counter += 1
    return bytes(out)


def _check(nonce, n):
    if len(nonce) != NONCE_LEN:
        raise ValueError("CCM nonce must be %d bytes" % NONCE_LEN)
    if n > _MAX_LEN:
        raise ValueError("CCM message too long")


def encrypt(cipher, nonce, plaintext, aad=b""):
    """The ciphertext followed by the 8-byte tag."""
    nonce = bytes(nonce)
    _check(nonce, len(plaintext))
    tag = _mac(cipher, nonce, aad, plaintext)
    return _ctr(cipher, nonce, plaintext, 1) + _ctr(cipher, nonce, tag, 0)


def decrypt(cipher, nonce, data, aad=b""):
    """The plaintext of ciphertext-and-tag `data`; TagMismatch when it does not
    verify (nothing of the plaintext is given out then)."""
    nonce = bytes(nonce)
    if len(data) < TAG_LEN:
        raise TagMismatch("shorter than the tag")
    _check(nonce, len(data) - TAG_LEN)
    n = len(data) - TAG_LEN
    plaintext = _ctr(cipher, nonce, data[:n], 1)
    tag = _ctr(cipher, nonce, data[n:], 0)
    expected = _mac(cipher, nonce, aad, plaintext)
    diff = 0
    for i in range(TAG_LEN):  # every byte compared, whatever the first differs
        diff |= tag[i] ^ expected[i]
    if diff:
        raise TagMismatch("authentication tag mismatch")
    return plaintext
