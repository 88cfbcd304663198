"""The gateway's USB radio as a real serial device: a pseudo-terminal pair.

The gateway opens `path` (a symlink to the pty's slave, /dev/pts/N) with
pyserial exactly as it opens /dev/ttyUSB0; the simulator plays the radio
bridge on the master side. unplug() closes the pty and removes the symlink,
as pulling the USB cable removes the device node: the gateway's open port
fails and reopening it fails until plug() makes a new pty behind the same
path. The simulator's side never blocks: what it writes while the radio is
unplugged, or while the gateway is not reading and the line's buffer is full,
is dropped and counted, as a USB serial adapter drops it.
"""

from __future__ import annotations

import array
import fcntl
import os
import termios
import tty
from pathlib import Path
from types import TracebackType

# What the line holds unread before writes are dropped: a USB serial
# adapter's buffer and the driver's, in the order of a few kilobytes.
BUFFER_LIMIT = 4096


class RadioPort:
    def __init__(self, path: str | os.PathLike[str], buffer_limit: int = BUFFER_LIMIT,
                 plugged: bool = True) -> None:
        self.path = Path(path)
        self.buffer_limit = buffer_limit
        self._master: int | None = None
        self._slave: int | None = None
        self.plugs = 0  # times plugged in
        self.dropped_writes = 0
        self.dropped_bytes = 0
        self.bytes_in = 0  # from the gateway
        self.bytes_out = 0  # to the gateway
        if plugged:
            self.plug()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        """Put the radio (back) in: a new pty behind the same path."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        # Raw from the start: with the tty's defaults the line would echo the
        # radio's bytes back to it and translate newlines before the gateway
        # has opened it.
        tty.setraw(slave)
        os.set_blocking(master, False)
        tmp = self.path.with_name(self.path.name + ".plugging")
        tmp.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)
        self._master, self._slave = master, slave
        self.plugs += 1

    def unplug(self) -> None:
        """Pull the radio out: the device node goes, the line hangs up."""
        self.path.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> RadioPort:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def fileno(self) -> int | None:
        """The master's descriptor, readable when the gateway has written
        (changes with every plug)."""
        return self._master

    def read(self) -> bytes:
        """Whatever the gateway has written, b"" if nothing (or unplugged)."""
        if self._master is None:
            return b""
        chunks = []
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # EIO: no one holds the line open
                break
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        self.bytes_in += len(data)
        return data

    def unread(self) -> int:
        """Bytes written to the gateway that it has not read yet."""
        if self._slave is None:
            return 0
        buf = array.array("i", [0])
        fcntl.ioctl(self._slave, termios.FIONREAD, buf)
        return buf[0]

    def write(self, data: bytes) -> bool:
        """Send `data` to the gateway, or drop it (False) when unplugged or
        when the gateway has left the line full. The kernel moves written
        bytes to the line a moment later, so a fast burst can pass the limit
        until the kernel's own buffer refuses: then only part may go out (a
        truncated frame, as on an overflowing real line)."""
        if self._master is None or self.unread() + len(data) > self.buffer_limit:
            return self._drop(len(data))
        try:
            n = os.write(self._master, data)
        except OSError:  # full despite the limit, or the line hung up
            return self._drop(len(data))
        self.bytes_out += n
        if n < len(data):
            return self._drop(len(data) - n)
        return True

    def _drop(self, n: int) -> bool:
        self.dropped_writes += 1
        self.dropped_bytes += n
        return False
