"""Sizes and airtime of what a bin node sends: the plain bin report and the
same report protected with OSCORE, as the node's own uplink builds them."""

from __future__ import annotations

from bench.report import line
from firmware import codec
from firmware.lora.airtime import airtime_us
from firmware.net import secure
from firmware.net.uplink import Uplink
from firmware.oscore.sequence import SenderSequence
from firmware.proto import coap
from firmware.waste.outbox import MemStore
from sim.hal import AesEcb

FRAME_TARGET = 40  # bytes: a protected bin report in one small LoRa frame
# A bin node's sequence numbers: about 7 reports a day, so 256 to 65535 for
# most of its life (2,555 a year): a 2-byte Partial IV.
TYPICAL_SEQUENCE = 300


class _Clock:
    def ms(self) -> int:
        return 0



class _Hal:
    clock = _Clock()

    def random_bits(self, n: int) -> int:
        return 0

    def aes(self, key: bytes) -> AesEcb:
        return AesEcb(key)

    def flash_store(self, name: str) -> MemStore:
        return MemStore()


class _Keys:
    def __init__(self, kid: str) -> None:
        self.key = "00" * 16
        self.kid = kid


def protected_frame(report: bytes, kid: str, sequence: int = TYPICAL_SEQUENCE) -> bytes:
    """The bin report as a node with that kid sends it, protected, at that
    sequence number."""
    hal = _Hal()
    uplink = Uplink("B0001", hal)
    ep = uplink.oscore = secure.endpoint(_Keys(kid), hal)
    ep.sequence = SenderSequence(MemStore())
    ep.sequence.next = ep.sequence.limit = sequence
    return bytes(coap.encode(uplink._request(coap.CON, "b", report)[0]))


def run() -> list[str]:
    report = codec.encode_bin_report(codec.BinReport(1, 1_790_000_000, 50.0, 10, 3600))
    # The request exactly as the node builds it, for a typical 5-character id.
    uplink = Uplink("B0001", _Hal())
    message = coap.encode(uplink._request(coap.CON, "b", report)[0])
    # Protected (OSCORE): a 1-byte kid below 256 keyed nodes at a gateway,
    # 2 bytes above; its answer, a protected 2.04, is 4 + 2 + 9 = 15 bytes.
    one = protected_frame(report, "07")
    two = protected_frame(report, "0107")
    return [
        line("radio.bin_report_payload", len(report), "bytes", "<=", 12),
        line("radio.bin_report_frame", len(message), "bytes", "<=", 25),
        line("radio.bin_report_airtime_sf7", airtime_us(len(message), 7) / 1000, "ms",
             "<=", 62),
        line("radio.bin_report_frame_oscore", len(one), "bytes", "<=", FRAME_TARGET),
        line("radio.bin_report_frame_oscore_kid2", len(two), "bytes", "<=", FRAME_TARGET),
        line("radio.bin_report_airtime_sf7_oscore", airtime_us(len(one), 7) / 1000, "ms",
             "<=", round(airtime_us(FRAME_TARGET, 7) / 1000, 1)),
        line("radio.bin_report_airtime_sf12_oscore", airtime_us(len(one), 12) / 1000, "ms",
             "<=", round(airtime_us(FRAME_TARGET, 12) / 1000, 1)),
    ]
