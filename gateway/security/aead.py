"""OSCORE's AEAD inputs (RFC 8613 sections 5.2-5.4) as bytes, for the gateway's
fast paths: the zone commands it sends (gateway/security/zone.py) and the
nodes' protected reports and their answers (gateway/security/site.py).

Why not aiocoap's protect() and unprotect() there: they copy every message
(deepcopy), build the AAD with a general CBOR encoder and check group-mode
cases a node's context never has; that is most of a millisecond per message
on the gateway's busiest path, where presence events come hundreds a second.
What is left is small enough to state exactly: AES-CCM-16-64-128 with a
13-byte nonce and an 8-byte tag, the keys and the Common IV of aiocoap's own
context derivation, no class I options, identifiers of at most 7 bytes and
Partial IVs of at most 5. The tests hold every byte to aiocoap's protect()
and unprotect()."""

from __future__ import annotations

NONCE_BYTES = 13  # AES-CCM-16-64-128
TAG_BYTES = 8
MAX_ID_BYTES = NONCE_BYTES - 6
MAX_PIV_BYTES = 5

# Enc_structure ["Encrypt0", h'', external_aad]: an array of 3, the text
# "Encrypt0", the empty protected bucket; then the external AAD as a byte
# string (always under 24 bytes here, so its length fits the head).
_ENC_STRUCTURE_HEAD = bytes.fromhex("83" "68" + b"Encrypt0".hex() + "40")


def nonce(common_iv: bytes, piv_sender_id: bytes, piv: bytes) -> bytes:
    """The AEAD nonce (section 5.2): the length of the Sender ID that made the
    Partial IV, that ID and the Partial IV, each left-padded, XOR the
    Common IV."""
    components = (bytes((len(piv_sender_id),)) + bytes(MAX_ID_BYTES - len(piv_sender_id))
                  + piv_sender_id + bytes(MAX_PIV_BYTES - len(piv)) + piv)
    return (int.from_bytes(components, "big") ^ int.from_bytes(common_iv, "big")
            ).to_bytes(NONCE_BYTES, "big")


def aad(request_kid: bytes, request_piv: bytes) -> bytes:
    """The AEAD's additional data (section 5.4) for a request and its
    response alike: external_aad = [1, [10], request_kid, request_piv, h'']
    (version 1, AES-CCM-16-64-128, no class I options) inside the
    Enc_structure."""
    external = (bytes((0x85, 0x01, 0x81, 0x0A, 0x40 | len(request_kid))) + request_kid
                + bytes((0x40 | len(request_piv),)) + request_piv + b"\x40")
    return _ENC_STRUCTURE_HEAD + bytes((0x40 | len(external),)) + external


def fits(kid: bytes, piv: bytes) -> bool:
    """Whether a kid and a Partial IV are within what nonce() and aad() make
    (anything else is left to aiocoap, which refuses or handles it)."""
    return len(kid) <= MAX_ID_BYTES and 0 < len(piv) <= MAX_PIV_BYTES
