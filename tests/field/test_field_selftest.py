"""What the laptop makes of the node's self-test line: the table, what to do
about each failure, and a clear line when there is no result."""

from __future__ import annotations

import pytest

from firmware import selftest as node_selftest
from tools.field.errors import FieldError
from tools.field.selftest import GENERIC, advice, format_table, parse_result, summary


def check(name: str, ok: bool, value: str, code: str = "") -> dict[str, object]:
    return {"name": name, "ok": ok, "value": value, "code": code}


def test_the_nodes_line_becomes_a_table_with_advice_for_each_failure() -> None:
    # The line exactly as firmware/selftest.py prints it, between other output.
    out = "\r\n".join([
        "I (1234) wifi: connected",
        node_selftest.line([
            check("config", True, "bin node B0042, Wi-Fi, gateway 10.20.0.1:5683"),
            check("sensor", False, "no steady reading (1 of 5 samples)", "no_echo"),
            check("wifi", True, "city-iot, -61 dBm"),
            check("gateway", False, "10.20.0.1:5683 does not answer (9 s)", "unreachable"),
            check("battery", True, "3.61 V"),
            check("memory", True, "38 KB free"),
            check("contact", True, "never since power-on", "never"),
        ]),
        ""])
    checks = parse_result(out)
    assert [c.name for c in checks] == ["config", "sensor", "wifi", "gateway", "battery",
                                        "memory", "contact"]
    table = format_table(checks).splitlines()
    assert table[0].split() == ["check", "result", "value", "what", "to", "do"]
    sensor = next(ln for ln in table if ln.startswith("sensor"))
    assert "FAIL" in sensor and "no steady reading" in sensor and "fill sensor's cable" in sensor
    gateway = next(ln for ln in table if ln.startswith("gateway"))
    assert "gateway runs" in gateway
    battery = next(ln for ln in table if ln.startswith("battery"))
    assert "PASS" in battery and battery.rstrip().endswith("3.61 V")  # no advice when ok
    assert summary(checks) == "2 of 7 checks failed: sensor, gateway"


def test_unknown_codes_and_crashes_still_get_a_sensible_line() -> None:
    assert advice("sensor", "bent") == "check the sensor's cable, power and mounting"
    assert advice("antenna", "bent") == GENERIC
    assert "crashed" in advice("battery", "error")
    for name, code in (("battery", "low"), ("battery", "critical"), ("wifi", "no_wifi"),
                       ("config", "no_config"), ("memory", "low"), ("contact", "stale")):
        assert advice(name, code) != GENERIC


@pytest.mark.parametrize("out", [
    "",
    "Traceback (most recent call last):\r\nMemoryError\r\n",
    "SELFTEST {not json",
    'SELFTEST {"checks": []}',
    'SELFTEST {"checks": [{"ok": true}]}',
])
def test_no_result_line_is_one_clear_error(out: str) -> None:
    with pytest.raises(FieldError, match="self-test gave no result: deploy the firmware again"):
        parse_result(out)
