"""Sizes and airtime of what a bin node sends."""

from __future__ import annotations

from bench.report import line
from firmware import codec
from firmware.lora.airtime import airtime_us
from firmware.net.uplink import Uplink
from firmware.proto import coap


class _Clock:
    def ms(self) -> int:
        return 0


class _Hal:
    clock = _Clock()

    def random_bits(self, n: int) -> int:
        return 0


def run() -> list[str]:
    report = codec.encode_bin_report(codec.BinReport(1, 1_790_000_000, 50.0, 10, 3600))
    # The request exactly as the node builds it, for a typical 5-character id.
    uplink = Uplink("B0001", _Hal())
    message = coap.encode(uplink._request(coap.CON, "b", report)[0])
    return [
        line("radio.bin_report_payload", len(report), "bytes", "<=", 12),
        line("radio.bin_report_frame", len(message), "bytes", "<=", 25),
        line("radio.bin_report_airtime_sf7", airtime_us(len(message), 7) / 1000, "ms",
             "<=", 62),
    ]
