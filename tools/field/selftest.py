"""`kvarter node selftest`: the node checks itself (firmware/selftest.py prints
one line `SELFTEST {"checks": [...]}`), the laptop shows a table with what to
do about each failure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tools.field.errors import FieldError
from tools.field.node_link import NodeExecError, NodeLink

RESULT_PREFIX = "SELFTEST "
RUN = "from firmware import selftest\nselftest.main()\n"

# What the technician does about a failed check, by (check, code); then by
# check alone; then GENERIC.
ADVICE: dict[tuple[str, str], str] = {
    ("config", "no_config"): "provision the node: kvarter node provision ID --port PORT ...",
    ("config", "bad_config"): "provision the node again; the value shown is the wrong one",
    ("sensor", "no_echo"): "check the fill sensor's cable and plug, and that nothing covers it",
    ("sensor", "out_of_range"): "check the sensor points straight down into the bin, at least "
                                "25 cm above the fullest level (full_mm)",
    ("sensor", "no_answer"): "check the sensor's cable and power; a radar's TX and RX must cross",
    ("led", "no_answer"): "check the lamp driver's dimming wires (led_pwm pin) and pwm_invert",
    ("radio", "no_answer"): "check the LoRa module is seated, its antenna fitted and the SPI pins",
    ("wifi", "not_set"): "provision the node with --wifi-ssid and --wifi-password",
    ("wifi", "no_wifi"): "check the Wi-Fi name and password (provision again) and the signal "
                         "at the node's place",
    ("gateway", "unreachable"): "check the gateway runs and gateway_host/port in the config; "
                                "the street network must let UDP 5683 through",
    ("gateway", "no_wifi"): "fix the Wi-Fi first (the line above)",
    ("battery", "low"): "replace the cell at the next visit",
    ("battery", "critical"): "replace the cell now: the node will stop soon",
    ("battery", "no_answer"): "check the battery's wiring to the board (battery_adc pin)",
    ("memory", "low"): "deploy the firmware again (kvarter node deploy), then retry",
    ("contact", "never"): "a new node has not reported yet: reset it and check again after "
                          "its first report",
    ("contact", "stale"): "the node has not heard the gateway for long: check the radio link "
                          "and the gateway",
    ("clock", "not_set"): "the clock is set from the network once the node is online: check "
                          "Wi-Fi or LoRa",
}
BY_CHECK = {
    "config": "provision the node again",
    "sensor": "check the sensor's cable, power and mounting",
    "led": "check the lamp driver's wiring",
    "radio": "check the radio module and its antenna",
    "wifi": "check the Wi-Fi settings and signal",
    "gateway": "check the gateway's address and that it runs",
    "battery": "check or replace the cell",
    "memory": "deploy the firmware again",
    "contact": "check the node's link to the gateway",
    "clock": "check the node's link to the network",
    "hal": "check the config's pins match the board, then provision again",
}
GENERIC = "run the self-test again; if it fails again, replace the node and report it"
CRASHED = "this check crashed: deploy the firmware again, retry, and report it if it repeats"


def advice(name: str, code: str) -> str:
    if code == "error":
        return CRASHED
    return ADVICE.get((name, code)) or BY_CHECK.get(name) or GENERIC


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    value: str
    code: str

    @property
    def advice(self) -> str:
        return "" if self.ok else advice(self.name, self.code)


def parse_result(output: str) -> list[Check]:
    """The checks from the node's output; raises FieldError when there is no
    well-formed result line."""
    for line in output.splitlines():
        if not line.startswith(RESULT_PREFIX):
            continue
        try:
            raw = json.loads(line[len(RESULT_PREFIX):])
            checks = [Check(str(c["name"]), c["ok"] is True, str(c.get("value", "")),
                            str(c.get("code", ""))) for c in raw["checks"]]
        except (ValueError, KeyError, TypeError):
            break
        if checks:
            return checks
        break
    raise FieldError("the node's self-test gave no result: deploy the firmware again "
                     "(kvarter node deploy) and retry")


def run_selftest(link: NodeLink, timeout: float = 90.0) -> list[Check]:
    try:
        out = link.run(RUN, timeout=timeout, doing="running its self-test")
    except NodeExecError as e:
        if "selftest" in str(e) and ("ImportError" in str(e) or "no module" in str(e)):
            raise FieldError("the node has no self-test: deploy the firmware first "
                             "(kvarter node deploy)") from None
        raise
    return parse_result(out)


def format_table(checks: list[Check]) -> str:
    rows = [("check", "result", "value", "what to do")]
    rows += [(c.name, "PASS" if c.ok else "FAIL", c.value, c.advice) for c in checks]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip()
                     for r in rows)


def summary(checks: list[Check]) -> str:
    failed = [c.name for c in checks if not c.ok]
    if not failed:
        return f"all {len(checks)} checks passed"
    return f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}"
