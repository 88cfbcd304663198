"""`kvarter node monitor`: the node's log as it happens, each line with the
laptop's time. Nothing is sent to the node, so its program runs on
undisturbed; a node unplugged is waited for and picked up again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import serial

from tools.field.errors import FieldError
from tools.field.probe import close_quietly
from tools.field.serial_port import open_port

RETRY_S = 0.5
PARTIAL_S = 0.5  # a line without its end (a prompt) is shown after this quiet


def stamp(now: float | None = None) -> str:
    t = datetime.fromtimestamp(time.time() if now is None else now)
    return t.strftime("%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


class LineClock:
    """Bytes from the line to whole lines, each stamped with the time its first
    byte came."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buf = b""
        self.started = 0.0
        self.last = 0.0

    def feed(self, data: bytes, now: float) -> None:
        if data and not self.buf:
            self.started = now
        if data:
            self.last = now
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self._out(line)
            self.started = now
        if self.buf and now - self.last >= PARTIAL_S:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self._out(self.buf)
            self.buf = b""

    def _out(self, line: bytes) -> None:
        text = line.decode(errors="replace").rstrip("\r")
        self.emit(f"{stamp(self.started)}  {text}")


def monitor(port: str, say: Callable[[str], None], should_stop: Callable[[], bool] = lambda: False
            ) -> None:
    """Until Ctrl-C (KeyboardInterrupt) or should_stop()."""
    s: serial.SerialBase | None = open_port(port, timeout=0.1)  # missing or busy: an error
    say(f"{stamp()}  -- monitoring {port}; Ctrl-C to stop")
    lines = LineClock(say)
    try:
        while s is not None and not should_stop():
            try:
                lines.feed(s.read(max(1, s.in_waiting)), time.time())
            except (serial.SerialException, OSError):
                lines.flush()
                close_quietly(s)
                say(f"{stamp()}  -- {port} is gone (unplugged?); waiting for it to come back")
                s = _wait_for(port, should_stop)
                if s is not None:
                    say(f"{stamp()}  -- {port} is back")
    finally:
        lines.flush()
        if s is not None:
            close_quietly(s)


def _wait_for(port: str, should_stop: Callable[[], bool]) -> serial.SerialBase | None:
    while not should_stop():
        try:
            return open_port(port, timeout=0.1)
        except FieldError:
            time.sleep(RETRY_S)
    return None
