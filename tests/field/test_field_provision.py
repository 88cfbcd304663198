"""Provisioning decisions that need no node: the config.json a node gets, with
its own key, checked by the firmware's own parser (here and inside the real
MicroPython VM), and every refusal made before the node is touched."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RunningGateway, one_line_error, technician_lines

from firmware.settings import ConfigError, parse
from gateway.records import Node
from tools.field.errors import FieldError
from tools.field.provision import Request, build_config, config_text, parse_set, request_from
from tools.field.site import load_site

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "site.toml"
KEY = "0123456789abcdef0123456789abcdef"


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_bin_config_from_the_site_profile_and_options() -> None:
    site = load_site(EXAMPLE)
    req = request_from(site, "B0042", "bin", 60.675, 17.141, keys=parse_set(("empty_mm=1100",)))
    cfg = json.loads(config_text(build_config(req, KEY)))
    assert cfg == {"id": "B0042", "role": "bin", "key": KEY, "transport": "wifi",
                   "gateway_host": "127.0.0.1", "gateway_port": 5683, "wifi_ssid": "city-iot",
                   "wifi_password": "change-me", "lat": 60.675, "lon": 17.141,
                   "measure_interval_s": 3600, "heartbeat_s": 14400, "empty_mm": 1100,
                   "full_mm": 250}
    assert req.kind == "240L"
    node = parse(json.dumps(cfg))
    assert node.key == KEY and node.empty_mm == 1100


def test_a_light_on_lora_and_options_over_the_profile() -> None:
    site = load_site(EXAMPLE)
    req = request_from(site, "L0009", "light", 60.67, 17.13, zone="path", lora=True, sf=9,
                       gateway="10.20.0.1:5683")
    cfg = json.loads(config_text(build_config(req, KEY, addr=12)))
    assert cfg["transport"] == "lora" and cfg["lora"] == {"sf": 9, "modem": "sx1262",
                                                          "output_power": 14}
    assert "wifi_ssid" not in cfg and cfg["addr"] == 12 and cfg["idle_pct"] == 40
    assert req.kind == "path" and req.gateway == "10.20.0.1:5683"


@pytest.mark.parametrize("req, expect", [
    (Request("B1", "bin", 60.67, 17.14, gateway="127.0.0.1:5683", wifi_ssid="x",
             wifi_password="y", keys={"full_mm": 2000}),
     "config for B1 refused: full_mm (2000) must be less than empty_mm (1000)"),
    (Request("B1", "bin", 60.67, 17.14, gateway="127.0.0.1:5683"), "needs --wifi-ssid"),
    (Request("B1", "bin", 60.67, 17.14, gateway="127.0.0.1:5683", wifi_ssid="x"),
     "no password for Wi-Fi 'x'"),
    (Request("B1", "bin", 60.67, 17.14, wifi_ssid="x", wifi_password="y"),
     "no gateway address"),
    (Request("B1", "bin", 60.67, 17.14, transport="lora", lora={"sf": 13},
             gateway="127.0.0.1:5683"), "lora.sf must be between 7 and 12"),
    (Request("B1", "bin", 60.67, 17.14, gateway="127.0.0.1:5683", wifi_ssid="x",
             wifi_password="y", keys={"role": "light"}), "--set role=... is not allowed"),
])
def test_a_config_the_node_would_refuse_is_refused_here(req: Request, expect: str) -> None:
    with pytest.raises(FieldError) as e:
        config_text(build_config(req, KEY))
    assert expect in str(e.value)


def test_every_node_gets_its_own_key_and_the_node_checks_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key must be 32 hex digits"):
        parse(json.dumps({"id": "B1", "role": "bin", "gateway_host": "h", "key": "abc"}))
    # The same check inside the real MicroPython VM, as on the node.
    script = tmp_path / "check.py"
    script.write_text(
        "from firmware import settings\n"
        f"print(settings.parse('{{\"id\":\"B1\",\"role\":\"bin\",\"gateway_host\":\"h\","
        f"\"key\":\"{KEY}\"}}').key)\n"
        "try:\n"
        " settings.parse('{\"id\":\"B1\",\"role\":\"bin\",\"gateway_host\":\"h\","
        "\"key\":\"zz\"}')\n"
        "except settings.ConfigError as e:\n"
        " print(e)\n")
    out = subprocess.run(["node", str(ROOT / "tools" / "micropython_vm.mjs"), str(script),
                          f"{ROOT / 'firmware'}=/firmware"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.stdout.splitlines() == [
        KEY, "key must be 32 hex digits (16 bytes), got 2 characters"]


def test_a_duplicate_id_is_refused_before_the_node_is_touched(gateway: RunningGateway,
                                                              tmp_path: Path) -> None:
    gateway.register(Node("B0042", "bin", 60.6751, 17.1415, "240L"))
    site = tmp_path / "site.toml"
    site.write_text(EXAMPLE.read_text() + technician_lines(gateway.db))
    site.chmod(0o600)
    line = one_line_error(kvarter(
        "node", "provision", "B0042", "--role", "bin", "--lat", "60.675", "--lon", "17.141",
        "--port", str(tmp_path / "ttyUSB3"), "--site", str(site),
        "--gateway", f"127.0.0.1:{gateway.port}"))
    assert re.search(r"already has a node B0042 \(bin at 60.6751, 17.1415\).*--replace", line)


def test_a_wrong_value_is_refused_before_the_node_is_touched(tmp_path: Path) -> None:
    line = one_line_error(kvarter(
        "node", "provision", "B0042", "--role", "bin", "--lat", "60.675", "--lon", "17.141",
        "--port", str(tmp_path / "ttyUSB3"), "--site", str(EXAMPLE), "--set", "samples=40"))
    assert "config for B0042 refused: samples must be between 3 and 15, got 40" in line
    line = one_line_error(kvarter(
        "node", "provision", "B0042", "--role", "bin", "--port", str(tmp_path / "ttyUSB3"),
        "--site", str(EXAMPLE)))
    assert "needs --lat and --lon" in line
