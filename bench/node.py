"""Node footprint, measured in the real MicroPython VM with the firmware
compiled by mpy-cross as it is deployed: heap in use after start-up and
after a wake (bin) or a detection (light)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from bench.report import line
from tools.firmware_build import FIRMWARE_DIR, compile_file, firmware_sources

ROOT = FIRMWARE_DIR.parent
HEAP_TARGET = 28 * 1024  # half of the ESP32's 56 KiB initial heap

SCRIPT = """
import gc, json, sys
sys.path.insert(0, "/fwtests")
sys.path.insert(0, "/")
from fakehal import FakeHal  # test scaffolding: not on a node, so not counted
gc.collect()
base = gc.mem_alloc()
from firmware import config
from firmware.bin_node import BinNode
from firmware.light_node import LightNode
cfg = {"id": "B0001", "role": "bin", "gateway_host": "10.0.0.1"}
hal = FakeHal()
node = BinNode(config.Config(cfg), hal)
node.wake()  # the first wake after power-on always reports
node.send()
node.poll()
gc.collect()
bin_heap = gc.mem_alloc() - base
cfg["role"] = "light"
light = LightNode(config.Config(cfg), hal)
hal.presence.trigger()
light.poll()
gc.collect()
print(json.dumps({"bin": bin_heap, "both": gc.mem_alloc() - base}))
"""


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # Bytecode-only .mpy (no -march): what the VM loads, and the same
        # bytecode the ESP32 build carries.
        for src in firmware_sources():
            if src.name != "main.py" and "hal" not in src.parts:
                dst = out / "firmware" / src.relative_to(FIRMWARE_DIR).with_suffix(".mpy")
                compile_file(src, dst, arch=None)
        (out / "heap.py").write_text(SCRIPT)
        proc = subprocess.run(
            ["node", str(ROOT / "tools" / "micropython_vm.mjs"), str(out / "heap.py"),
             f"{out / 'firmware'}=/firmware", f"{ROOT / 'tests' / 'firmware'}=/fwtests"],
            capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    heap = json.loads(proc.stdout.strip().splitlines()[-1])
    return [
        line("node.bin_heap_after_wake", heap["bin"], "bytes", "<=", HEAP_TARGET),
        line("node.light_and_bin_heap", heap["both"], "bytes", "<=", HEAP_TARGET),
    ]
