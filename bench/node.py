"""Node footprint, measured in the real MicroPython VM with the firmware
compiled by mpy-cross as it is deployed: heap in use after start-up and
after a wake (bin) or a detection (light)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from bench.report import line
from tools.firmware_build import ENTRY, FIRMWARE_DIR, compile_file, read_manifest

ROOT = FIRMWARE_DIR.parent
HEAP_TARGET = 28 * 1024  # half of the ESP32's 56 KiB initial heap

# A node runs one role: each role is measured in a VM of its own.
PRELUDE = """
import gc, json, sys
sys.path.insert(0, "/fwtests")
sys.path.insert(0, "/")
gc.collect()
start = gc.mem_alloc()
# The fake links inherit the node's own transport contract: that is node code,
# counted; the rest of the test scaffolding is not on a node, so not counted.
import firmware.net.transport
gc.collect()
counted = gc.mem_alloc() - start
from fakehal import FakeHal
# The block cipher is cryptolib's, in C, on the ESP32: the tests' pure-Python
# AES would count its own garbage (the VM's collector is conservative), so
# the heap is measured with a cipher that costs nothing.
class NullAes:
    def encrypt(self, block):
        return block
def null_aes(key):
    return NullAes()
gc.collect()
base = gc.mem_alloc() - counted
from firmware import settings as config
"""
ROLES = {
    "bin": """
from firmware.waste.node import BinNode
hal = FakeHal()
hal.aes = null_aes
node = BinNode(config.Config({"id": "B0001", "role": "bin", "gateway_host": "10.0.0.1"}), hal)
node.wake()  # the first wake after power-on always reports
node.send()
node.poll()
""",
    "light": """
from firmware.lighting.node import LightNode
hal = FakeHal()
hal.aes = null_aes
node = LightNode(config.Config({"id": "L0001", "role": "light", "gateway_host": "10.0.0.1"}),
                 hal)
hal.presence.trigger()
node.poll()
""",
}
# The same with a key and a kid: every exchange protected with OSCORE (the
# context's keys, its sequence numbers, AES-CCM of the report or the event).
KEYS = '"key": "000102030405060708090a0b0c0d0e0f", "kid": "07", '
OSCORE_IMPORTS = """
from firmware.oscore.context import Context
from firmware.oscore.message import Endpoint, OscoreError
from firmware.oscore.sequence import ReplayWindow, SenderSequence
"""
ROLES["bin_oscore"] = OSCORE_IMPORTS + ROLES["bin"].replace('"id": ', KEYS + '"id": ')
ROLES["light_oscore"] = OSCORE_IMPORTS + ROLES["light"].replace('"id": ', KEYS + '"id": ')
REPORT = """
gc.collect()
print(json.dumps({"heap": gc.mem_alloc() - base}))
"""


def heap_of(role: str, out: Path, code_counted: bool = True) -> int:
    """Heap in use after start-up and one wake or detection. With
    code_counted=False the node's modules are imported before the count
    starts: what a firmware image with the modules frozen into flash uses."""
    body = ROLES[role]
    if not code_counted:
        imports = "".join(ln + "\n" for ln in body.splitlines() if ln.startswith("from "))
        body = imports + "gc.collect()\nbase = gc.mem_alloc()\n" + body
    script = out / f"heap_{role}_{int(code_counted)}.py"
    script.write_text(PRELUDE + body + REPORT)
    proc = subprocess.run(
        ["node", str(ROOT / "tools" / "micropython_vm.mjs"), str(script),
         f"{out / 'firmware'}=/firmware", f"{ROOT / 'tests' / 'firmware'}=/fwtests"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["heap"])


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # Bytecode-only .mpy (no -march): what the VM loads, and the same
        # bytecode the ESP32 build carries.
        # What the manifest puts on a node, but its entry point and the ESP32's
        # hardware layer (the fake one stands in for it).
        for f in read_manifest():
            if f.path != ENTRY and not f.path.startswith("firmware/hal/"):
                compile_file(f.source, out / Path(f.path).with_suffix(".mpy"), arch=None)
        heaps = {role: heap_of(role, out) for role in ROLES}
        state = {role: heap_of(role, out, code_counted=False) for role in ROLES}
    return [
        line("node.bin_heap_after_wake", heaps["bin"], "bytes", "<=", HEAP_TARGET),
        line("node.light_heap_after_detection", heaps["light"], "bytes", "<=", HEAP_TARGET),
        line("node.bin_heap_frozen_modules", state["bin"], "bytes", "<=", HEAP_TARGET),
        line("node.light_heap_frozen_modules", state["light"], "bytes", "<=", HEAP_TARGET),
        line("node.bin_oscore_heap_after_wake", heaps["bin_oscore"], "bytes", "<=",
             HEAP_TARGET),
        line("node.light_oscore_heap_after_detection", heaps["light_oscore"], "bytes", "<=",
             HEAP_TARGET),
        line("node.bin_oscore_heap_frozen_modules", state["bin_oscore"], "bytes", "<=",
             HEAP_TARGET),
        line("node.light_oscore_heap_frozen_modules", state["light_oscore"], "bytes", "<=",
             HEAP_TARGET),
    ]
