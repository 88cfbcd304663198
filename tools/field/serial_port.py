"""Opening a node's serial port, and what to tell the technician when it
cannot be opened: no device there, another program has it, no permission."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import serial
import serial.tools.list_ports

from tools.field.errors import FieldError

BAUD = 115200  # MicroPython's REPL on the ESP32's UART0


def present_ports() -> list[str]:
    return sorted(p.device for p in serial.tools.list_ports.comports())


def holders(port: str) -> list[tuple[int, str]]:
    """(pid, program) of the other processes that have the device open, found
    through /proc; empty where that cannot be seen (a socket, another OS)."""
    if "://" in port:
        return []
    try:
        target = os.path.realpath(port)
        proc = Path("/proc")
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return []
    found = []
    for p in pids:
        if int(p.name) == os.getpid():
            continue
        try:
            fds = list((p / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    found.append((int(p.name), (p / "comm").read_text().strip()))
                    break
            except OSError:
                continue
    return found


def _errno(e: BaseException) -> int | None:
    code = getattr(e, "errno", None)
    if isinstance(code, int):
        return code
    m = re.search(r"\[Errno (\d+)\]", str(e))
    return int(m.group(1)) if m else None


def no_device(port: str) -> FieldError:
    others = [p for p in present_ports() if p != port]
    seen = f" (there is {', '.join(others[:3])})" if others else ""
    return FieldError(f"no device on {port}{seen}: plug the node in with a data cable, and "
                      "'kvarter node ports' lists the ports", short="no device")


def busy(port: str) -> FieldError:
    who = ", ".join(f"{name} (pid {pid})" for pid, name in holders(port))
    by = f" by {who}" if who else " by another program"
    return FieldError(f"{port} is in use{by}: close that program (a serial monitor, "
                      "another kvarter command) and retry", short=f"in use{by}")


def open_failure(port: str, e: BaseException) -> FieldError:
    """The one line for a port that would not open."""
    code = _errno(e)
    text = str(e)
    if code in (errno.EAGAIN, errno.EBUSY) or "exclusively lock" in text:
        return busy(port)
    if code in (errno.EACCES, errno.EPERM):
        return FieldError(f"no permission to open {port}: add yourself to the dialout group "
                          "('sudo usermod -aG dialout $USER'), log out and in, and retry")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ECONNREFUSED, errno.EIO) \
            or "No such file" in text or "Connection refused" in text:
        return no_device(port)
    return FieldError(f"cannot open {port}: {text.strip().splitlines()[-1] if text else e!r}; "
                      "unplug the node, plug it in again and retry")


def open_port(port: str, timeout: float = 0.1) -> serial.SerialBase:
    """The port opened exclusively, as esptool and mpremote open it, so that
    two programs never read the same node at once."""
    try:
        return serial.serial_for_url(port, baudrate=BAUD, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        raise open_failure(port, e) from None
