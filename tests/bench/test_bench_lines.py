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


def test_the_protected_ingest_load_is_answered_by_bare_aiocoap_with_verified_answers() -> None:
    """The yardstick of ingest.ratio_to_bare_aiocoap_oscore really serves
    OSCORE: answers only count when they verify against their request."""
    from bench.ingest import CLIENTS, Target, bare_server, interleaved, protected_reports
    from bench.oscore_load import ProtectingNode, bare_kid, node_key

    nodes = [ProtectingNode(f"N{i}", bare_kid(i), node_key(i)) for i in range(CLIENTS)]
    with bare_server(CLIENTS) as (port, pid):
        target = Target(port, pid, *protected_reports(nodes))
        interleaved([target], seconds=2.0)
    # Some answered and verified (how many a second is the benchmark's).
    assert target.answered > 0 and target.cpu > 0
    # A node whose key the server does not have gets nothing that verifies.
    stranger = [ProtectingNode("N0", bare_kid(0), bytes(16))] * CLIENTS
    with bare_server(CLIENTS) as (port, pid):
        target = Target(port, pid, *protected_reports(stranger))
        interleaved([target], seconds=2.0)
    assert target.answered == 0
