"""Compiling the node firmware with the real MicroPython cross-compiler, and
the node's file list from firmware/manifest.py (MicroPython's manifest syntax,
the same file a frozen firmware image is built from)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
MANIFEST = FIRMWARE_DIR / "manifest.py"
ARCH = "xtensawin"  # the ESP32's Xtensa LX6/LX7 with windowed registers
ENTRY = "main.py"  # the node's entry point: to the flash's root, as source


def firmware_sources(root: Path = FIRMWARE_DIR) -> list[Path]:
    """Every .py file under firmware/, host-only ones too: all of them must
    compile with mpy-cross."""
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@dataclass(frozen=True)
class NodeFile:
    """One file the manifest puts on a node: its source, and its path on the
    node as MicroPython's manifest stores it ("firmware/waste/node.py",
    "main.py")."""
    source: Path
    path: str


class ManifestError(ValueError):
    """A manifest that names a file that is not there, or uses a command this
    reader does not know."""


def _py_files(top: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py")]
    return out


def read_manifest(manifest: Path = MANIFEST) -> list[NodeFile]:
    """The files the manifest names, by executing it with package() and
    module() that record what they name (include() and require() name the
    port's and micropython-lib's modules, which are not ours to copy)."""
    here = manifest.parent
    files: dict[str, NodeFile] = {}

    def add(source: Path, path: str) -> None:
        if not source.is_file():
            raise ManifestError(f"{manifest}: {source} is not there")
        files[path] = NodeFile(source, path)

    def package(package_path: str, files: list[str] | None = None, base_path: str = ".",
                opt: int | None = None) -> None:
        base = (here / base_path).resolve()
        top = base / package_path
        if not top.is_dir():
            raise ManifestError(f"{manifest}: package {package_path} is not a folder in {base}")
        sources = [top / f for f in files] if files is not None else _py_files(top)
        for src in sources:
            add(src, src.relative_to(base).as_posix())

    def module(module_path: str, base_path: str = ".", opt: int | None = None) -> None:
        src = (here / base_path).resolve() / module_path
        add(src, Path(module_path).name)

    def include(manifest_path: str, **kwargs: object) -> None:
        pass

    def require(name: str, **kwargs: object) -> None:
        pass

    def metadata(**kwargs: object) -> None:
        pass

    commands = {"package": package, "module": module, "include": include,
                "require": require, "metadata": metadata}
    try:
        exec(compile(manifest.read_text(), str(manifest), "exec"), dict(commands))
    except NameError as e:
        raise ManifestError(f"{manifest}: {e}") from None
    return sorted(files.values(), key=lambda f: f.path)


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


def compile_all(out_dir: Path, manifest: Path = MANIFEST) -> list[Path]:
    """What the manifest puts on a node, compiled into out_dir as the node's
    flash holds it: .mpy files, and the entry point as source."""
    outputs = []
    for f in read_manifest(manifest):
        out = out_dir / f.path
        if f.path == ENTRY:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(f.source.read_bytes())
        else:
            out = out.with_suffix(".mpy")
            compile_file(f.source, out)
        outputs.append(out)
    return outputs
