# OSCORE (firmware/oscore/) against RFC 8613 Appendix C and the RFCs of its
# parts, in MicroPython and CPython, with the tests' own AES-128 (aes128.py).
import hashlib

from aes128 import Aes128
from oscore_vectors import C4, C5, C6, C7, C8, ID_CONTEXT, SALT, SECRET, endpoint, h

from firmware.oscore import cbor, ccm
from firmware.oscore.context import Context, piv_bytes, piv_int
from firmware.oscore.hkdf import hkdf, hmac_sha256
from firmware.oscore.message import (
    OscoreError,
    Replayed,
    Request,
    UnknownContext,
    option_value,
    parse_option,
)
from firmware.proto import coap


def _raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def test_aes128_reference_matches_fips_197():
    key = h("000102030405060708090a0b0c0d0e0f")
    assert Aes128(key).encrypt(h("00112233445566778899aabbccddeeff")) == \
        h("69c4e0d86a7b0430d8cdb78070b4c55a")
    assert Aes128(h("2b7e151628aed2a6abf7158809cf4f3c")).encrypt(
        h("3243f6a8885a308d313198a2e0370734")) == h("3925841d02dc09fbdc118597196a0b32")


def test_hmac_sha256_rfc_4231():
    assert hmac_sha256(b"\x0b" * 20, b"Hi There") == \
        h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?") == \
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    # A key longer than the block is hashed first.
    assert hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First") \
        == h("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    assert len(hashlib.sha256(b"").digest()) == 32


def test_hkdf_sha256_rfc_5869():
    assert hkdf(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42) == h(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    # No salt, no info (test case 3).
    assert hkdf(b"", b"\x0b" * 22, b"", 42) == h(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")


def test_aes_ccm_rfc_3610_packet_vector_1():
    cipher = Aes128(bytes(range(0xC0, 0xD0)))
    nonce = h("00000003020100a0a1a2a3a4a5")
    aad = bytes(range(8))
    plain = bytes(range(8, 0x1F))
    sealed = ccm.encrypt(cipher, nonce, plain, aad)
    assert sealed == h("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0")
    assert ccm.decrypt(cipher, nonce, sealed, aad) == plain
    for i in range(len(sealed)):  # any flipped bit, in ciphertext or tag
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        _raises(ccm.TagMismatch, ccm.decrypt, cipher, nonce, bytes(bad), aad)
    _raises(ccm.TagMismatch, ccm.decrypt, cipher, nonce, sealed, aad + b"x")
    _raises(ccm.TagMismatch, ccm.decrypt, cipher, nonce, sealed[:7], aad)
    _raises(ValueError, ccm.encrypt, cipher, nonce[:12], plain, aad)


def test_cbor_encodes_what_oscore_needs():
    assert cbor.encode(None) == b"\xf6"
    assert cbor.encode(0) == b"\x00" and cbor.encode(23) == b"\x17"
    assert cbor.encode(24) == b"\x18\x18" and cbor.encode(256) == b"\x19\x01\x00"
    assert cbor.encode(65536) == b"\x1a\x00\x01\x00\x00"
    assert cbor.encode(-1) == b"\x20"
    assert cbor.encode(b"") == b"\x40" and cbor.encode(b"\x01\x02") == b"\x42\x01\x02"
    assert cbor.encode("IV") == b"\x62IV"
    assert cbor.encode([b"", None, 10, "Key", 16]) == h("8540f60a634b657910")
    assert cbor.encode(bytes(30))[:2] == b"\x58\x1e"


def _context(sender_id, recipient_id, salt=SALT, id_context=None):
    return Context(Aes128, SECRET, salt, sender_id, recipient_id, id_context)


def test_key_derivation_c_1_client_and_server():
    client = _context(b"", b"\x01")
    assert client.sender_key == h("f0910ed7295e6ad4b54fc793154302ff")
    assert client.recipient_key == h("ffb14e093c94c9cac9471648b4f98710")
    assert client.common_iv == h("4622d4dd6d944168eefb54987c")
    assert client.nonce(client.sender_id, b"\x00") == h("4622d4dd6d944168eefb54987c")
    assert client.nonce(client.recipient_id, b"\x00") == h("4722d4dd6d944169eefb54987c")
    server = _context(b"\x01", b"")
    assert server.sender_key == client.recipient_key
    assert server.recipient_key == client.sender_key
    assert server.common_iv == client.common_iv
    assert server.nonce(server.sender_id, b"\x00") == h("4722d4dd6d944169eefb54987c")


def test_key_derivation_c_2_without_master_salt():
    client = _context(b"\x00", b"\x01", salt=b"")
    assert client.sender_key == h("321b26943253c7ffb6003b0b64d74041")
    assert client.recipient_key == h("e57b5635815177cd679ab4bcec9d7dda")
    assert client.common_iv == h("be35ae297d2dace910c52e99f9")
    assert client.nonce(client.sender_id, b"\x00") == h("bf35ae297d2dace910c52e99f9")
    assert client.nonce(client.recipient_id, b"\x00") == h("bf35ae297d2dace810c52e99f9")


def test_key_derivation_c_3_with_id_context():
    client = _context(b"", b"\x01", id_context=ID_CONTEXT)
    assert client.sender_key == h("af2a1300a5e95788b356336eeecd2b92")
    assert client.recipient_key == h("e39a0c7c77b43f03b4b39ab9a268699f")
    assert client.common_iv == h("2ca58fb85ff1b81c0b7181b85e")
    assert client.nonce(client.sender_id, b"\x00") == h("2ca58fb85ff1b81c0b7181b85e")
    assert client.nonce(client.recipient_id, b"\x00") == h("2da58fb85ff1b81d0b7181b85e")


def test_ids_must_differ_and_fit_the_nonce():
    _raises(ValueError, _context, b"\x01", b"\x01")
    _raises(ValueError, _context, bytes(8), b"")


def test_partial_iv_is_the_shortest_big_endian():
    assert piv_bytes(0) == b"\x00" and piv_bytes(20) == b"\x14"
    assert piv_bytes(256) == b"\x01\x00" and piv_bytes((1 << 40) - 1) == b"\xff" * 5
    assert piv_int(b"\x01\x00") == 256
    _raises(ValueError, piv_bytes, 1 << 40)


def test_option_value_round_trips():
    assert option_value() == b""
    assert option_value(b"\x14", b"") == b"\x09\x14"
    assert option_value(b"\x14", b"\x00") == b"\x09\x14\x00"
    assert option_value(b"\x14", b"", ID_CONTEXT) == h("19140837cbf3210017a2d3")
    assert parse_option(h("19140837cbf3210017a2d3")) == (b"\x14", b"", ID_CONTEXT)
    assert parse_option(b"\x01\x00") == (b"\x00", None, None)
    assert parse_option(b"") == (b"", None, None)
    for bad in (b"\x20", b"\x06" + bytes(6), b"\x02\x00", b"\x01\x00\x07", b"\x10", b"\x10\x05a"):
        _raises(OscoreError, parse_option, bad)


def _protect_request(ep, unprotected, kid_context=True):
    msg = coap.decode(unprotected)
    outer, request = ep.protect_request(msg, kid_context)
    return coap.encode(outer), request


def test_c_4_request_from_the_client_with_an_empty_sender_id():
    wire, request = _protect_request(endpoint(b"", b"\x01", seq=20), C4[0])
    assert wire == C4[1]
    assert request.kid == b"" and request.piv == b"\x14"
    # The server takes it back to the request sent.
    server = endpoint(b"\x01", b"")
    inner, got = server.unprotect_request(coap.decode(C4[1]))
    assert coap.encode(inner) == C4[0]
    assert (got.kid, got.piv, got.nonce) == (request.kid, request.piv, request.nonce)


def test_c_5_request_without_master_salt():
    wire, _ = _protect_request(endpoint(b"\x00", b"\x01", salt=b"", seq=20), C5[0])
    assert wire == C5[1]
    inner, _ = endpoint(b"\x01", b"\x00", salt=b"").unprotect_request(coap.decode(C5[1]))
    assert coap.encode(inner) == C5[0]


def test_c_6_request_with_an_id_context():
    wire, _ = _protect_request(endpoint(b"", b"\x01", id_context=ID_CONTEXT, seq=20), C6[0])
    assert wire == C6[1]
    server = endpoint(b"\x01", b"", id_context=ID_CONTEXT)
    inner, _ = server.unprotect_request(coap.decode(C6[1]))
    assert coap.encode(inner) == C6[0]


def _c4_request():
    return Request(b"", b"\x14", _context(b"", b"\x01").nonce(b"", b"\x14"))


def test_c_7_response_reusing_the_request_nonce():
    server = endpoint(b"\x01", b"")
    outer = server.protect_response(coap.decode(C7[0]), _c4_request())
    assert coap.encode(outer) == C7[1]
    client = endpoint(b"", b"\x01")
    assert coap.encode(client.unprotect_response(coap.decode(C7[1]), _c4_request())) == C7[0]


def test_c_8_response_with_its_own_partial_iv():
    server = endpoint(b"\x01", b"", seq=0)
    outer = server.protect_response(coap.decode(C8[0]), _c4_request(), new_piv=True)
    assert coap.encode(outer) == C8[1]
    assert server.sequence.next == 1
    client = endpoint(b"", b"\x01")
    assert coap.encode(client.unprotect_response(coap.decode(C8[1]), _c4_request())) == C8[0]


def test_a_request_is_accepted_once():
    server = endpoint(b"\x01", b"")
    server.unprotect_request(coap.decode(C4[1]))
    e = _raises(Replayed, server.unprotect_request, coap.decode(C4[1]))
    assert e.code == 0x81  # 4.01


def test_a_forged_request_leaves_the_window_alone():
    server = endpoint(b"\x01", b"")
    bad = bytearray(C4[1])
    bad[-1] ^= 0x80
    e = _raises(OscoreError, server.unprotect_request, coap.decode(bytes(bad)))
    assert e.code == coap.BAD_REQUEST
    server.unprotect_request(coap.decode(C4[1]))  # the real one still goes


def test_a_request_for_another_context_is_refused():
    e = _raises(UnknownContext, endpoint(b"\x02", b"\x03").unprotect_request, coap.decode(C5[1]))
    assert e.code == 0x81
    other_ctx = endpoint(b"\x01", b"", id_context=b"\x01")
    _raises(UnknownContext, other_ctx.unprotect_request, coap.decode(C6[1]))
    plain = coap.decode(C4[0])
    _raises(OscoreError, endpoint(b"\x01", b"").unprotect_request, plain)


def test_a_response_to_another_request_is_refused():
    client = endpoint(b"", b"\x01")
    other = Request(b"", b"\x15", _context(b"", b"\x01").nonce(b"", b"\x15"))
    _raises(OscoreError, client.unprotect_response, coap.decode(C7[1]), other)
    _raises(OscoreError, client.unprotect_response, coap.decode(C8[1]), other)


def test_a_bin_report_round_trip_and_its_size():
    # The node B0001 with sender id 0x0001, the gateway with the empty id.
    node = endpoint(b"\x00\x01", b"", seq=300)
    gateway = endpoint(b"", b"\x00\x01")
    report = h("010101026ab13b80910ba0ff")
    msg = coap.Message(coap.CON, coap.POST, 0x7A10, b"",
                       [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, b"B0001")], report)
    assert len(coap.encode(msg)) == 25
    outer, request = node.protect_request(msg)
    wire = coap.encode(outer)
    # header 4, OSCORE option 1 + flags 1 + Partial IV 2 + kid 2, marker 1,
    # then code 1, Uri-Paths 8, marker 1, report 12 and the tag 8, encrypted.
    assert len(wire) == 41
    assert wire[:4] == h("40027a10") and wire[4:10] == h("950a012c0001")
    inner, got = gateway.unprotect_request(coap.decode(wire))
    assert coap.encode(inner) == coap.encode(msg)
    answer = coap.Message(coap.ACK, coap.CHANGED, 0x7A10)
    sealed = coap.encode(gateway.protect_response(answer, got))
    # header, the empty OSCORE option, marker, then the code and the tag: +11
    assert len(sealed) == 4 + 1 + 1 + 1 + 8
    back = node.unprotect_response(coap.decode(sealed), request)
    assert back.code == coap.CHANGED and back.mtype == coap.ACK and back.mid == 0x7A10


def test_the_hal_cipher_is_aes():
    # The fake hardware layer's hal.aes (cryptography's AES in CPython, the
    # tests' own in the VM) agrees with FIPS-197 and so with Aes128.
    from fakehal import FakeHal
    cipher = FakeHal().aes(h("000102030405060708090a0b0c0d0e0f"))
    assert cipher.encrypt(h("00112233445566778899aabbccddeeff")) == \
        h("69c4e0d86a7b0430d8cdb78070b4c55a")
    ep = endpoint(b"", b"\x01", seq=20, aes=FakeHal().aes)
    assert coap.encode(ep.protect_request(coap.decode(C4[0]))[0]) == C4[1]
