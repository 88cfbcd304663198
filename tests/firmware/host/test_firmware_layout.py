"""The firmware's layout holds on the node: a bin node loads nothing of the
light node's and a light node nothing of the bin node's, a Wi-Fi node nothing
of LoRa, and none of them the host-only modules, traced by running each kind
of node in CPython and in the MicroPython VM. The ESP32's hardware layer wires
each role's drivers in that role's branch, and the firmware's manifest names
every file a node needs and no host-only one."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.firmware_build import ENTRY, FIRMWARE_DIR, read_manifest

ROOT = FIRMWARE_DIR.parent
FW_TESTS = ROOT / "tests" / "firmware"
HOST_ONLY = {"firmware.codec", "firmware.energy", "firmware.manifest"}
CASES = ["bin/wifi", "bin/lora", "light/wifi", "light/lora"]


def not_allowed(case: str) -> list[str]:
    """Packages a node of this kind must not load."""
    role, transport = case.split("/")
    out = ["firmware.lighting" if role == "bin" else "firmware.waste", "firmware.hal.drivers"]
    if transport == "wifi":
        out.append("firmware.lora")
    return out


def loaded(modules: list[str], package: str) -> list[str]:
    return [m for m in modules if m == package or m.startswith(package + ".")]


def trace_script(tmp_path: Path, case: str, vm: bool) -> Path:
    script = tmp_path / f"trace_{case.replace('/', '_')}_{int(vm)}.py"
    paths = '"/fwtests", "/"' if vm else f"{str(FW_TESTS)!r}, {str(ROOT)!r}"
    script.write_text(f"import sys\nsys.path[:0] = [{paths}]\nROLE_CASE = {case!r}\n"
                      + (FW_TESTS / "role_trace.py").read_text())
    return script


def run_trace(script: Path, vm: bool) -> list[str]:
    if vm:
        cmd = ["node", str(ROOT / "tools" / "micropython_vm.mjs"), str(script),
               f"{FIRMWARE_DIR}=/firmware", f"{FW_TESTS}=/fwtests"]
    else:
        cmd = [sys.executable, "-I", str(script)]  # -I: nothing else on sys.path
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    modules: list[str] = json.loads(lines[-1])["modules"]
    return modules


@pytest.mark.parametrize("vm", [False, True], ids=["cpython", "micropython"])
@pytest.mark.parametrize("case", CASES)
def test_a_node_loads_only_its_own_roles_code(case: str, vm: bool, tmp_path: Path) -> None:
    modules = run_trace(trace_script(tmp_path, case, vm), vm)
    role = case.split("/")[0]
    own = "firmware.waste.node" if role == "bin" else "firmware.lighting.node"
    assert own in modules  # the trace saw the node run
    for package in not_allowed(case):
        assert not loaded(modules, package), f"a {case} node loaded {loaded(modules, package)}"
    assert not HOST_ONLY & set(modules)


def test_the_trace_can_fail(tmp_path: Path) -> None:
    # A light node's trace does load firmware.lighting: the check above would
    # see it if a bin node did.
    modules = run_trace(trace_script(tmp_path, "light/wifi", False), False)
    assert loaded(modules, "firmware.lighting")


def _imports(body: list[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom) and sub.module:
                out.add(sub.module)
            elif isinstance(sub, ast.Import):
                out.update(a.name for a in sub.names)
    return out


def _top_level_imports(tree: ast.Module) -> set[str]:
    return _imports([n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))])


def _method(tree: ast.Module, cls: str, name: str) -> list[ast.stmt]:
    c = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return next(n for n in c.body if isinstance(n, ast.FunctionDef) and n.name == name).body


BIN_DRIVERS = {"ranger", "ultrasonic", "tfluna", "ds18b20", "lis3dh"}
LIGHT_DRIVERS = {"pir", "ld2410", "bh1750", "pwm_led"}


def test_the_esp32_hal_wires_each_roles_drivers_in_that_roles_branch() -> None:
    tree = ast.parse((FIRMWARE_DIR / "hal" / "esp32.py").read_text())
    top = _top_level_imports(tree)
    assert not [m for m in top if m.startswith(("firmware.hal.drivers", "firmware.lora",
                                                "firmware.waste", "firmware.lighting"))], top
    drivers = {"firmware.hal.drivers." + d for d in BIN_DRIVERS | LIGHT_DRIVERS}
    bin_wiring = _imports(_method(tree, "Hal", "_bin_sensors")) & drivers
    light_wiring = _imports(_method(tree, "Hal", "_light")) & drivers
    assert bin_wiring == {"firmware.hal.drivers." + d for d in BIN_DRIVERS}
    assert light_wiring == {"firmware.hal.drivers." + d for d in LIGHT_DRIVERS}
    # main.py imports a role's node only in that role's branch.
    main = ast.parse((FIRMWARE_DIR / "main.py").read_text())
    assert _top_level_imports(main) == {"time", "machine", "firmware", "firmware.hal.esp32"}


def test_the_manifest_names_every_node_file_and_no_host_only_one() -> None:
    named = {f.path for f in read_manifest()}
    every = {p.relative_to(ROOT).as_posix() for p in FIRMWARE_DIR.rglob("*.py")
             if "__pycache__" not in p.parts}
    host_only = {m.replace(".", "/") + ".py" for m in HOST_ONLY}
    assert ENTRY in named
    assert named - {ENTRY} == every - host_only - {"firmware/main.py"}
    assert not named & host_only
