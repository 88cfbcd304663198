# `cryptolib` as on MicroPython's ESP32 port, for the virtual node: the
# WebAssembly VM has none. AES-128 in ECB mode (mode 1), the forward cipher
# only, which is all the firmware asks of it (OSCORE's AES-CCM, through
# hal.aes). Pure Python, slow and not constant-time: a simulated chip only.
# mypy: ignore-errors
# The cipher is FIPS-197's, as in tests/firmware/aes128.py.

MODE_ECB = 1
def _xtime(a):
    a <<= 1
    return (a ^ 0x1B) & 0xFF if a & 0x100 else a


def _sbox():
    # The multiplicative inverse in GF(2^8), then the affine map.
    exp = [0] * 256
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= _xtime(x)  # multiply by 3, a generator
    box = bytearray(256)
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for k in range(1, 5):
            s ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        box[a] = s ^ 0x63
    return bytes(box)


SBOX = _sbox()


def expand_key(key):
    if len(key) != 16:
        raise ValueError("AES-128 key must be 16 bytes")
    w = bytearray(key)
    rcon = 1
    while len(w) < 176:
        t = w[-4:]
        if len(w) % 16 == 0:
            t = bytearray((SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]))
            rcon = _xtime(rcon)
        for i in range(4):
            w.append(w[len(w) - 16] ^ t[i])
    return bytes(w)


def encrypt_block(round_keys, block):
    s = bytearray(16)
    for i in range(16):
        s[i] = block[i] ^ round_keys[i]
    for r in range(1, 11):
        # SubBytes and ShiftRows (state in columns of 4: byte c * 4 + row)
        t = bytearray(16)
        for c in range(4):
            for row in range(4):
                t[c * 4 + row] = SBOX[s[((c + row) % 4) * 4 + row]]
        if r < 10:  # MixColumns
            for c in range(4):
                a0, a1, a2, a3 = t[c * 4], t[c * 4 + 1], t[c * 4 + 2], t[c * 4 + 3]
                x = a0 ^ a1 ^ a2 ^ a3
                t[c * 4] = a0 ^ x ^ _xtime(a0 ^ a1)
                t[c * 4 + 1] = a1 ^ x ^ _xtime(a1 ^ a2)
                t[c * 4 + 2] = a2 ^ x ^ _xtime(a2 ^ a3)
                t[c * 4 + 3] = a3 ^ x ^ _xtime(a3 ^ a0)
        k = r * 16
        for i in range(16):
            s[i] = t[i] ^ round_keys[k + i]
    return bytes(s)


class aes:  # noqa: N801 - cryptolib's own name
    def __init__(self, key, mode, IV=None):  # noqa: N803
        if mode != MODE_ECB:
            raise ValueError("mode")  # the virtual node's cryptolib: ECB only
        self.round_keys = expand_key(bytes(key))

    def encrypt(self, in_buf, out_buf=None):
        data = bytes(in_buf)
        if len(data) % 16:
            raise ValueError("blksize")
        out = b"".join(encrypt_block(self.round_keys, data[i:i + 16])
                       for i in range(0, len(data), 16))
        if out_buf is None:
            return out
        out_buf[:] = out
        return None
