# RFC 8613 Appendix C's test vectors, shared by the firmware's OSCORE tests
# (MicroPython and CPython) and the host's property tests.
from aes128 import Aes128
from fakehal import FakeStore

from firmware.oscore.context import Context
from firmware.oscore.message import Endpoint
from firmware.oscore.sequence import ReplayWindow, SenderSequence

h = bytes.fromhex

SECRET = h("0102030405060708090a0b0c0d0e0f10")
SALT = h("9e7ca92223786340")
ID_CONTEXT = h("37cbf3210017a2d3")


def endpoint(sender_id, recipient_id, salt=SALT, id_context=None, seq=0, aes=Aes128,
             window=True):
    ctx = Context(aes, SECRET, salt, sender_id, recipient_id, id_context)
    sequence = SenderSequence(FakeStore())
    sequence.next = seq
    return Endpoint(ctx, sequence, ReplayWindow(FakeStore()) if window else None)


# (unprotected, protected) requests: C.4 (C.1 contexts), C.5 (C.2: no master
# salt, sender id 0x00), C.6 (C.3: an ID context); sequence number 20.
C4 = (h("44015d1f00003974396c6f63616c686f737483747631"),
      h("44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e"))
C5 = (h("440171c30000b932396c6f63616c686f737483747631"),
      h("440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0"))
C6 = (h("44012f8eef9bbf7a396c6f63616c686f737483747631"),
      h("44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3"
        "ff72cd7273fd331ac45cffbe55c3"))
# Responses to C.4's request: C.7 reuses its nonce, C.8 has a Partial IV (0).
C7 = (h("64455d1f00003974ff48656c6c6f20576f726c6421"),
      h("64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106"))
C8 = (h("64455d1f00003974ff48656c6c6f20576f726c6421"),
      h("64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e"))
