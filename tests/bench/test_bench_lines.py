"""The quick benchmarks run and print lines anyone can read (the slow groups
run in `make bench` only)."""

from __future__ import annotations

import re

import bench.radio
from bench.report import line

LINE = re.compile(r"^bench [a-z]+\.[a-z0-9_]+: \S+ .*target (<=|>=|<|>) \S+ (ok|short)$")


def test_the_result_line_says_ok_or_short() -> None:
    assert line("node.x", 3, "bytes", "<=", 5) == "bench node.x: 3 bytes target <= 5 ok"
    assert line("node.x", 7.25, "ms", "<", 5).endswith("short")
    assert line("node.x", 1234.5, "req/s", ">=", 100) == "bench node.x: 1234 req/s target >= 100 ok"


def test_radio_group_runs_and_each_line_has_the_format() -> None:
    lines = bench.radio.run()
    assert lines and all(LINE.match(ln) for ln in lines), lines
    assert lines[0] == "bench radio.bin_report_payload: 12 bytes target <= 12 ok"
