"""`kvarter node selftest`: the node checks itself (firmware/selftest.py prints
one line `SELFTEST {"checks": [...], "node": ..., "wifi_dbm": ...}`), the
laptop shows a table with what to do about each failure, and hands the
result to the gateway for the technician's screen: when it ran, what failed,
the firmware build on the node (firmware_id of the files on its flash) and
the Wi-Fi signal where it stands, under the technician's credential."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.coap.client import GatewayUnreachable, RegistryError, parse_hostport, send_selftest
from gateway.records import SelfTest
from tools.field.deploy import MAIN, NODE_DIR, firmware_id
from tools.field.errors import FieldError
from tools.field.node_link import NodeExecError, NodeLink
from tools.field.site import Site

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


@dataclass(frozen=True)
class Result:
    """One run of a node's self-test as the laptop read it."""
    checks: list[Check]
    at: int  # the laptop's clock when it ran
    node_id: str | None = None  # as the node's config.json says
    wifi_dbm: int | None = None  # where it stands, when it joined the Wi-Fi
    firmware: str | None = None  # firmware_id of its flash; None: frozen or unknown

    def for_gateway(self, waived: frozenset[tuple[str, str]] = frozenset()) -> SelfTest:
        """What the gateway keeps; waived: (check, code) that do not count
        as failures (a new node's before its first report)."""
        failed = tuple(c.name for c in self.checks
                       if not c.ok and (c.name, c.code) not in waived)
        return SelfTest(self.at, not failed, failed, self.firmware, self.wifi_dbm)


def parse_output(output: str) -> tuple[list[Check], dict[str, object]]:
    """The checks from the node's output and what it says about itself (node,
    wifi_dbm); raises FieldError when there is no well-formed result line."""
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
            return checks, {k: v for k, v in raw.items() if k != "checks"}
        break
    raise FieldError("the node's self-test gave no result: deploy the firmware again "
                     "(kvarter node deploy) and retry")


def parse_result(output: str) -> list[Check]:
    return parse_output(output)[0]


def run_selftest(link: NodeLink, timeout: float = 90.0) -> Result:
    at = int(time.time())
    try:
        out = link.run(RUN, timeout=timeout, doing="running its self-test")
    except NodeExecError as e:
        if "selftest" in str(e) and ("ImportError" in str(e) or "no module" in str(e)):
            raise FieldError("the node has no self-test: deploy the firmware first "
                             "(kvarter node deploy)") from None
        raise
    checks, about = parse_output(out)
    node = about.get("node")
    wifi = about.get("wifi_dbm")
    files, _ = link.tree(NODE_DIR, MAIN)
    return Result(checks, at, node if isinstance(node, str) else None,
                  wifi if isinstance(wifi, int) and -127 <= wifi <= 0 else None,
                  firmware_id(files))


def give_gateway(result: Result, site: Site,
                 waived: frozenset[tuple[str, str]] = frozenset(),
                 pending_file: Path | None = None) -> str:
    """Hand the result to the gateway of the site profile; the line that
    says so. Raises FieldError when it could not (the self-test itself
    stands). pending_file: where a result the gateway cannot get now waits
    (out of reach, or the node's own registration still waiting there)."""
    from tools.field import pending

    if site.technician is None or result.node_id is None:
        why = ("the node's config.json names no node" if result.node_id is None else
               "no [technician] credential in the site profile")
        raise FieldError(f"the result was not given to the gateway: {why}",
                         short="not given to the gateway")
    gateway = site.gateway or "127.0.0.1:5683"
    given = result.for_gateway(waived)

    def kept(why: str) -> FieldError:
        assert pending_file is not None and result.node_id is not None
        pending.save_selftest(pending_file, result.node_id, gateway, given)
        return FieldError(f"{why}: the result is kept on this laptop ({pending_file}); "
                          "'kvarter node register --pending' gives it to the gateway once it "
                          "answers", short="result kept on this laptop for the gateway")

    if pending_file is not None and pending.registration_waits(pending_file, result.node_id):
        raise kept(f"the registration of {result.node_id} is still waiting on this laptop")
    try:
        host, port = parse_hostport(gateway)
        asyncio.run(send_selftest(host, port, result.node_id, given,
                                  technician=site.technician))
    except GatewayUnreachable as e:
        if pending_file is None:
            raise FieldError(f"the result was not given to the gateway: {e}",
                             short="not given to the gateway") from None
        raise kept(f"the gateway at {gateway} did not answer") from None
    except (RegistryError, ValueError) as e:
        raise FieldError(f"the result was not given to the gateway: {e}; run the self-test "
                         "again once the gateway is in reach", short="not given to the gateway"
                         ) from None
    return f"the gateway at {gateway} has the result of {result.node_id} for its nodes screen"


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
