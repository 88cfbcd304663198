"""A working session with a node's raw REPL over its USB serial line, through
mpremote's own transport (the same code as the `mpremote` command), with
timeouts on every wait and failures as one line."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from types import TracebackType

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from tools.field.errors import FieldError
from tools.field.probe import no_answer, probe
from tools.field.serial_port import BAUD, open_failure

# A read on the serial line waits at most this long for a byte: enough for a
# node that is compiling a large chunk, short enough that a silent one is
# noticed (mpremote's own default waits forever on a pty).
READ_TIMEOUT_S = 2.0
CHUNK = 1024  # bytes per write: fewer round trips than mpremote's 256

# Every file under a folder with its sha256, in one round trip: hashing on the
# node means only the digests cross the cable.
HASH_TREE = """
import os, hashlib, binascii
def _h(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            h.update(b)
    return binascii.hexlify(h.digest()).decode()
def _walk(d):
    for e in os.ilistdir(d):
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            print('D', p)
            _walk(p)
        else:
            print('F', p, _h(p))
for _p in %r:
    try:
        if os.stat(_p)[0] & 0x4000:
            print('D', _p)
            _walk(_p)
        else:
            print('F', _p, _h(_p))
    except OSError:
        pass
"""


class NodeExecError(FieldError):
    """Code run on the node raised; the message is its last traceback line."""


class NodeLink:
    """`with NodeLink(port) as node:` stops the node's program and gives its raw
    REPL after a soft reset (a fresh heap, main.py not run)."""

    def __init__(self, port: str, answer_timeout: float = 3.0) -> None:
        self.port = port
        self.answer_timeout = answer_timeout
        self._t: SerialTransport | None = None

    def __enter__(self) -> NodeLink:
        # A quick look first: a missing, busy or silent node is named within
        # seconds, before mpremote's longer waits.
        probe(self.port, self.answer_timeout)
        try:
            self._t = SerialTransport(self.port, baudrate=BAUD, timeout=READ_TIMEOUT_S)
        except TransportError:
            try:
                serial.serial_for_url(self.port, exclusive=True).close()
            except (serial.SerialException, OSError, ValueError) as e:
                raise open_failure(self.port, e) from None
            raise no_answer(self.port) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints what it read
                self._t.enter_raw_repl(soft_reset=True, timeout_overall=10)
        except (TransportError, serial.SerialException, OSError):
            self.close()
            raise no_answer(self.port) from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._t is not None:
            try:
                self._t.exit_raw_repl()
            except (serial.SerialException, OSError):
                pass  # unplugged meanwhile: nothing left to leave
        self.close()

    def close(self) -> None:
        if self._t is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._t.close()
            self._t = None

    @property
    def transport(self) -> SerialTransport:
        if self._t is None:
            raise RuntimeError("NodeLink used outside its with block")
        return self._t

    def _lost(self, doing: str, e: BaseException) -> FieldError:
        return FieldError(f"the node on {self.port} stopped answering while {doing} ({e}): "
                          "check the cable, press its reset button and retry")

    def run(self, code: str, timeout: float = 30.0, doing: str = "running a command") -> str:
        """Run code on the node; its printed output. Raises NodeExecError with
        the last line of the node's traceback."""
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                out, err = self.transport.exec_raw(code, timeout=timeout)
        except (TransportError, serial.SerialException, OSError) as e:
            raise self._lost(doing, e) from None
        if err:
            lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            raise NodeExecError(f"the node failed while {doing}: "
                                f"{lines[-1] if lines else 'error'}")
        return str(out.decode(errors="replace"))

    def tree(self, *paths: str) -> tuple[dict[str, str], set[str]]:
        """sha256 (hex) of every file under paths (folders or files), and the
        folders, as the node has them; absent paths are left out."""
        out = self.run(HASH_TREE % (list(paths),), timeout=60, doing="hashing its files")
        files: dict[str, str] = {}
        dirs: set[str] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "F":
                files[parts[1]] = parts[2]
            elif len(parts) == 2 and parts[0] == "D":
                dirs.add(parts[1])
        return files, dirs

    def write(self, path: str, data: bytes, progress: Callable[[int], None] | None = None) -> None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.transport.fs_writefile(
                    path, data, chunk_size=CHUNK,
                    progress_callback=(lambda done, _total: progress(done)) if progress else None)
        except TransportExecError as e:
            raise FieldError(f"could not write {path} on the node: {_last(e.error_output)}; "
                             "the flash may be full") from None
        except OSError as e:
            raise FieldError(f"could not write {path} on the node ({e}); the flash may be full, "
                             "or the node was unplugged") from None
        except (TransportError, serial.SerialException) as e:
            raise self._lost(f"writing {path}", e) from None

    def mkdir(self, path: str) -> None:
        self.run(f"import os\ntry:\n os.mkdir({path!r})\nexcept OSError:\n pass\n",
                 doing=f"making {path}")

    def remove(self, path: str) -> None:
        self.run(f"import os\nos.remove({path!r})", doing=f"removing {path}")

    def rmdir(self, path: str) -> None:
        self.run(f"import os\ntry:\n os.rmdir({path!r})\nexcept OSError:\n pass\n",
                 doing=f"removing {path}")

    def replace_file(self, src: str, dst: str) -> None:
        """Rename src over dst: the node never sees half a file at dst. Both
        are named from the root folder: MicroPython's VFS on the WebAssembly
        port cannot rename absolute paths."""
        a, b = src.lstrip("/"), dst.lstrip("/")
        self.run(f"import os\nos.chdir('/')\ntry:\n os.rename({a!r},{b!r})\nexcept OSError:\n"
                 f" os.remove({b!r})\n os.rename({a!r},{b!r})\n", doing=f"writing {dst}")

    def read_json(self, path: str) -> object | None:
        out = self.run(f"try:\n print(open({path!r}).read())\nexcept OSError:\n print('null')",
                       doing=f"reading {path}")
        try:
            value: object = json.loads(out)
        except ValueError:
            return None
        return value

    def reset(self) -> None:
        """A hard reset: the node starts its main.py as after power-on. No answer
        is awaited: the line may drop while the chip restarts."""
        try:
            self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
        except (TransportError, serial.SerialException, OSError):
            pass
        self.close()


def _last(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "error"
