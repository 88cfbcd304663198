"""Compiling the node firmware with the real MicroPython cross-compiler."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
ARCH = "xtensawin"  # the ESP32's Xtensa LX6/LX7 with windowed registers


def firmware_sources(root: Path = FIRMWARE_DIR) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def compile_file(source: Path, output: Path, arch: str | None = ARCH) -> None:
    """Compile one file to .mpy; raises RuntimeError with mpy-cross's message.
    arch=None gives portable bytecode (what the MicroPython VM here loads)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    march = [f"-march={arch}"] if arch else []
    result = subprocess.run(
        [sys.executable, "-m", "mpy_cross", *march, "-o", str(output), str(source)],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{source}: {result.stderr.strip() or result.stdout.strip()}")


def compile_all(out_dir: Path, root: Path = FIRMWARE_DIR) -> list[Path]:
    outputs = []
    for src in firmware_sources(root):
        out = out_dir / src.relative_to(root.parent).with_suffix(".mpy")
        compile_file(src, out)
        outputs.append(out)
    return outputs
