"""The firmware is real MicroPython: every file compiles with mpy-cross for the
ESP32, and the firmware's unit tests pass inside the MicroPython VM."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from tools.firmware_build import compile_file, firmware_sources

ROOT = Path(__file__).resolve().parents[3]
FW_TESTS = ROOT / "tests" / "firmware"


def firmware_test_names() -> list[str]:
    names = []
    for path in sorted(FW_TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        names += [f"{path.stem}.{n.name}" for n in tree.body
                  if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    return names


VM = ROOT / "tools" / "micropython_vm.mjs"

# Imports every firmware test module inside the VM and runs its test_*
# functions, one JSON line per test.
RUNNER = """
import sys, json
sys.path.insert(0, "/fwtests")
sys.path.insert(0, "/")
for mod_name in sorted(f[:-3] for f in __import__("os").listdir("/fwtests")
                       if f.startswith("test_") and f.endswith(".py")):
    try:
        mod = __import__(mod_name)
    except Exception as e:
        print(json.dumps({"test": mod_name, "ok": False,
                          "error": "import failed: %s: %s" % (type(e).__name__, e)}))
        continue
    for name in sorted(dir(mod)):
        if name.startswith("test_"):
            try:
                getattr(mod, name)()
                print(json.dumps({"test": mod_name + "." + name, "ok": True, "error": ""}))
            except Exception as e:
                print(json.dumps({"test": mod_name + "." + name, "ok": False,
                                  "error": "%s: %s" % (type(e).__name__, e)}))
"""


def run_in_vm(root: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    script = tmp / "runner.py"
    script.write_text(RUNNER)
    return subprocess.run(
        ["node", str(VM), str(script), f"{root / 'firmware'}=/firmware",
         f"{root / 'tests' / 'firmware'}=/fwtests"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def vm_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    proc = run_in_vm(ROOT, tmp_path_factory.mktemp("vm"))
    results: dict[str, dict[str, object]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[str(row["test"])] = row
    assert results, f"the MicroPython VM ran nothing: {proc.stderr.strip()}"
    return results


@pytest.mark.parametrize("name", firmware_test_names())
def test_passes_in_micropython_vm(name: str, vm_results: dict[str, dict[str, object]]) -> None:
    assert name in vm_results, f"{name} did not run in the VM"
    assert vm_results[name]["ok"], vm_results[name]["error"]


@pytest.mark.parametrize("source", firmware_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles_for_esp32(source: Path, tmp_path: Path) -> None:
    compile_file(source, tmp_path / "out.mpy")
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # .mpy header


def test_vm_run_fails_for_code_micropython_cannot_run(tmp_path: Path) -> None:
    # The check must be able to fail: a copy of the tree with a firmware test
    # that uses something MicroPython lacks.
    (tmp_path / "tests" / "firmware").mkdir(parents=True)
    (tmp_path / "firmware").symlink_to(ROOT / "firmware")
    (tmp_path / "tests" / "firmware" / "test_probe.py").write_text(
        "def test_uses_cpython_only():\n    import dataclasses\n")
    proc = run_in_vm(tmp_path, tmp_path)
    assert '"ok": false' in proc.stdout and "dataclasses" in proc.stdout


# Modules a MicroPython ESP32 build has; the firmware may import nothing else
# (besides its own package).
MICROPYTHON_MODULES = {
    "array", "asyncio", "binascii", "collections", "cryptolib", "ds18x20", "errno", "esp",
    "esp32", "gc", "hashlib", "heapq", "io", "json", "lora", "machine", "math", "micropython",
    "network", "ntptime", "onewire", "os", "random", "re", "select", "socket", "struct", "sys",
    "time",
}


@pytest.mark.parametrize("source", firmware_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_what_micropython_has(source: Path) -> None:
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            mods = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [(node.module or "").split(".")[0]]
        else:
            continue
        for mod in mods:
            assert mod == "firmware" or mod in MICROPYTHON_MODULES, \
                f"{source.name} imports {mod!r}, which MicroPython on the ESP32 lacks"
