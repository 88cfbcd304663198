"""`kvarter node deploy`: our firmware onto a node running MicroPython, as
.mpy files compiled for the ESP32 with mpy-cross, copying only what changed.

The firmware is bytecode only (no @native code), so its xtensawin .mpy files
carry no architecture in their header and are the same bytes as portable
ones: the virtual node's MicroPython (WebAssembly) loads them too."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tools.field.errors import FieldError
from tools.field.node_link import NodeLink
from tools.field.progress import Reporter
from tools.firmware_build import ENTRY, MANIFEST, compile_file, read_manifest

NODE_DIR = "/firmware"
MAIN = "/" + ENTRY  # firmware/main.py, as source at the root: MicroPython runs it at boot


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def firmware_id(files: dict[str, str]) -> str | None:
    """The firmware build a node runs, as 12 hex digits: SHA-256 over the
    path and SHA-256 of every file deploy puts on it, in path order. The
    same for the files a laptop builds and for what a node's flash holds
    (NodeLink.tree), so a technician can tell whether a node runs the build
    at hand; None when the node has none of them (a frozen image)."""
    ours = sorted((p, h) for p, h in files.items() if p == MAIN or p.startswith(NODE_DIR + "/"))
    if not any(p != MAIN for p, _ in ours):
        return None
    text = "".join(f"{p} {h}\n" for p, h in ours)
    return sha256(text.encode())[:12]


def build(reporter: Reporter, manifest: Path = MANIFEST) -> dict[str, bytes]:
    """Node path -> contents of every file the node gets: what the firmware's
    manifest names, compiled, and its entry point as source."""
    node_files = read_manifest(manifest)
    sources = [f for f in node_files if f.path != ENTRY]
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="kvarter-firmware-") as tmp, \
            reporter.bar("compiling", len(sources)) as done:
        for i, f in enumerate(sources):
            rel = Path(f.path).with_suffix(".mpy")
            out = Path(tmp) / rel
            try:
                compile_file(f.source, out)
            except RuntimeError as e:
                raise FieldError(f"the firmware does not compile: {e}") from None
            files["/" + rel.as_posix()] = out.read_bytes()
            done(i + 1)
    for f in node_files:
        if f.path == ENTRY:
            files[MAIN] = f.source.read_bytes()
    return files


@dataclass(frozen=True)
class Deployed:
    copied: int
    unchanged: int
    removed: int
    bytes_copied: int
    firmware: str | None = None  # firmware_id of what the node now has

    def describe(self) -> str:
        return (f"{self.copied} files copied ({self.bytes_copied} bytes), {self.unchanged} "
                f"unchanged, {self.removed} stale removed, all verified by sha256"
                + (f"; firmware {self.firmware}" if self.firmware else ""))


def _parents(path: str) -> list[str]:
    return [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "/"]


def deploy(link: NodeLink, reporter: Reporter, files: dict[str, bytes] | None = None
           ) -> Deployed:
    local = build(reporter) if files is None else files
    want = {p: sha256(d) for p, d in local.items()}
    have, dirs = link.tree(NODE_DIR, MAIN)
    # Stale modules go first: they free flash, and a stale .py beside a new
    # .mpy would be imported instead of it.
    stale = sorted(p for p in have if p.startswith(NODE_DIR + "/") and p not in want)
    for p in stale:
        link.remove(p)
    needed_dirs = {d for p in want for d in _parents(p)}
    for d in sorted(dirs - needed_dirs, key=len, reverse=True):
        if d.startswith(NODE_DIR + "/"):
            link.rmdir(d)
    for d in sorted(needed_dirs - dirs, key=len):
        link.mkdir(d)
    # main.py last: a node reset halfway through starts the old main.py
    # rather than a new one importing modules not yet there.
    changed = sorted((p for p in want if have.get(p) != want[p]), key=lambda p: p == MAIN)
    total = sum(len(local[p]) for p in changed)
    sent = 0
    with reporter.bar("copying  ", total) as done:
        def progress(n: int) -> None:
            done(sent + n)  # sent: what the files before this one took
        for p in changed:
            link.write(p, local[p], progress=progress)
            sent += len(local[p])
    after, _ = link.tree(NODE_DIR, MAIN)
    wrong = sorted(p for p in want if after.get(p) != want[p])
    if wrong:
        raise FieldError(f"{len(wrong)} files differ on the node after copying (first "
                         f"{wrong[0]}): run deploy again; if it repeats, the node's flash may be "
                         "failing")
    return Deployed(len(changed), len(want) - len(changed), len(stale), total,
                    firmware_id(want))
