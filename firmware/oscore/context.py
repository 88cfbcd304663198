# An OSCORE security context (RFC 8613 section 3): what two endpoints share
# (Master Secret, Master Salt, ID Context, the AEAD and HKDF algorithms) and
# the keys each derives from it (section 3.2): a Sender Key for what this
# end sends, a Recipient Key for what it receives, and the Common IV from
# which every nonce is made (section 5.2).
#
# The algorithms are fixed: AES-CCM-16-64-128 (COSE 10) and HKDF-SHA256.
from firmware.oscore import cbor
from firmware.oscore.ccm import KEY_LEN, NONCE_LEN
from firmware.oscore.hkdf import hkdf

ALG_AEAD = 10  # AES-CCM-16-64-128
MAX_ID_LEN = NONCE_LEN - 6  # 7 bytes: a Sender ID must fit the nonce
MAX_PIV = (1 << 40) - 1  # a Partial IV is at most 5 bytes


def derive(master_secret, master_salt, id_, id_context, type_, length):
    """One HKDF output: info = [id, id_context, alg_aead, type, L]."""
    info = cbor.encode([bytes(id_), id_context, ALG_AEAD, type_, length])
    return hkdf(master_salt or b"", master_secret, info, length)


def piv_bytes(n):
    """A sequence number as a Partial IV: big-endian, shortest, at least 1 byte."""
    if n < 0 or n > MAX_PIV:
        raise ValueError("sequence number out of range")
    k = 1
    while n >> (8 * k):
        k += 1
    return bytes((n >> (8 * (k - 1 - i))) & 0xFF for i in range(k))


def piv_int(piv):
    n = 0
    for b in piv:
        n = (n << 8) | b
    return n


class Context:
    """The keys of one security context, for one end of it.

    aes: the hardware layer's block cipher maker (hal.aes): aes(key) gives an
    object whose encrypt(16 bytes) returns 16. The master secret is not kept.
    """

    def __init__(self, aes, master_secret, master_salt, sender_id, recipient_id,
                 id_context=None):
        sender_id = bytes(sender_id)
        recipient_id = bytes(recipient_id)
        if len(sender_id) > MAX_ID_LEN or len(recipient_id) > MAX_ID_LEN:
            raise ValueError("OSCORE ids are at most %d bytes" % MAX_ID_LEN)
        if sender_id == recipient_id:
            raise ValueError("sender and recipient ids must differ")
        self.sender_id = sender_id
        self.recipient_id = recipient_id
        self.id_context = None if id_context is None else bytes(id_context)
        self.sender_key = derive(master_secret, master_salt, sender_id, self.id_context,
                                 "Key", KEY_LEN)
        self.recipient_key = derive(master_secret, master_salt, recipient_id,
                                    self.id_context, "Key", KEY_LEN)
        self.common_iv = derive(master_secret, master_salt, b"", self.id_context, "IV",
                                NONCE_LEN)
        self.sender_cipher = aes(self.sender_key)
        self.recipient_cipher = aes(self.recipient_key)

    def nonce(self, id_piv, piv):
        """The AEAD nonce (section 5.2) for Partial IV `piv` (bytes) made by the
        endpoint whose Sender ID is `id_piv`."""
        id_piv = bytes(id_piv)
        if len(id_piv) > MAX_ID_LEN or len(piv) > 5:
            raise ValueError("id or Partial IV too long for the nonce")
        out = bytearray(NONCE_LEN)
        out[0] = len(id_piv)
        at = 1 + MAX_ID_LEN - len(id_piv)
        for i in range(len(id_piv)):
            out[at + i] = id_piv[i]
        at = NONCE_LEN - len(piv)
        for i in range(len(piv)):
            out[at + i] = piv[i]
        iv = self.common_iv
        for i in range(NONCE_LEN):
            out[i] ^= iv[i]
        return bytes(out)
