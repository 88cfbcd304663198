"""Asking whatever is on a serial port whether it is a MicroPython node, and
which: interrupt its program, read the REPL's banner. Every wait is short,
so a port with nothing behind it costs a second, never a hang."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import serial

from tools.field.errors import FieldError
from tools.field.serial_port import open_port

CTRL_A, CTRL_B, CTRL_C, CTRL_D = b"\x01", b"\x02", b"\x03", b"\x04"
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
# The friendly REPL's banner, e.g.
# "MicroPython v1.27.0 on 2025-12-09; Generic ESP32 module with ESP32"
BANNER = re.compile(rb"MicroPython v?([0-9][^\s;,]*)[^;\r\n]*; ([^\r\n]+)")
# Asked in the raw REPL when the banner did not come: os.uname() names the
# board, sys.implementation the version.
INFO_CODE = (b"import sys\ntry:\n import os\n m=os.uname().machine\nexcept Exception:\n"
             b" m=getattr(sys.implementation,'_machine','?')\n"
             b"print('INFO',sys.implementation.name,"
             b"'.'.join(str(x) for x in sys.implementation.version[:3]),m)\n")


@dataclass(frozen=True)
class NodeInfo:
    version: str  # MicroPython's, e.g. "1.27.0"
    machine: str  # the board, e.g. "Generic ESP32 module with ESP32"

    def describe(self) -> str:
        return f"MicroPython {self.version}, {self.machine}"


def no_answer(port: str) -> FieldError:
    return FieldError(
        f"the node on {port} does not answer its REPL: press its reset button (EN), wait 2 s "
        "and retry; one that never answers has no MicroPython yet: "
        f"'kvarter node flash IMAGE --port {port}'",
        short="no REPL answer (asleep, busy, or no MicroPython)")


def _read_until(s: serial.SerialBase, ending: bytes, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline and not data.endswith(ending):
        data += s.read(max(1, s.in_waiting))
    return data


def _read_banner(s: serial.SerialBase, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline and not (BANNER.search(data) and data.endswith(b">>> ")):
        data += s.read(max(1, s.in_waiting))
    return data


def _drain(s: serial.SerialBase, quiet_s: float, deadline: float) -> bytes:
    """Read until the line has been quiet for quiet_s (or the deadline)."""
    data = b""
    last = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet_s:
        chunk = s.read(max(1, s.in_waiting))
        if chunk:
            data += chunk
            last = time.monotonic()
    return data


def _interrupt(s: serial.SerialBase, deadline: float) -> bytes:
    """Ctrl-C until a prompt shows: again and again, because a node just reset
    is still booting when the first one arrives, and a program may catch one
    KeyboardInterrupt."""
    heard = b""
    sent = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - sent >= 0.25:
            s.write(b"\r" + CTRL_C)
            sent = time.monotonic()
        heard += bytes(s.read(max(1, s.in_waiting)))
        if heard.endswith(b">>> ") or heard.endswith(b"\n>"):
            return heard + _drain(s, 0.1, deadline)
    return heard


def close_quietly(s: serial.SerialBase) -> None:
    """Close as mpremote does: RTS down before DTR, so that a board's
    auto-reset circuit does not reset the chip."""
    for line in ("rts", "dtr"):
        try:
            setattr(s, line, False)
        except (serial.SerialException, OSError, ValueError):
            pass  # a pty or a socket has no such lines
    s.close()


def parse_banner(data: bytes) -> NodeInfo | None:
    m = BANNER.search(data)
    if m is None:
        return None
    return NodeInfo(m.group(1).decode(errors="replace"),
                    m.group(2).decode(errors="replace").strip())


def parse_info(data: bytes) -> NodeInfo | None:
    for line in data.decode(errors="replace").splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] == "INFO" and parts[1] == "micropython":
            return NodeInfo(parts[2], parts[3].strip())
    return None


def probe(port: str, timeout: float = 2.0, resume: bool = False) -> NodeInfo:
    """Interrupt the node's program and identify it. With resume, a soft reset
    afterwards starts its main.py again. Raises FieldError (no device, busy,
    no answer)."""
    deadline = time.monotonic() + timeout
    s = open_port(port, timeout=0.05)
    try:
        heard = _interrupt(s, time.monotonic() + timeout / 2)
        s.write(CTRL_B)  # leaves the raw REPL; the friendly one prints its banner
        data = _read_banner(s, min(deadline, time.monotonic() + timeout / 2))
        info = parse_banner(data)
        if info is None and (heard or data):
            s.write(CTRL_A)
            if _read_until(s, RAW_PROMPT, deadline).endswith(RAW_PROMPT):
                s.write(INFO_CODE + CTRL_D)
                info = parse_info(_read_until(s, b"\x04>", deadline))
            s.write(CTRL_B)
        if info is None:
            raise no_answer(port)
        if resume:
            _drain(s, 0.05, deadline + 0.5)
            s.write(CTRL_D)  # soft reset from the friendly REPL runs main.py
        return info
    except (serial.SerialException, OSError) as e:
        raise FieldError(f"the node on {port} went away while it was asked ({e}): "
                         "check the cable and retry") from None
    finally:
        close_quietly(s)
