"""The gateway's end of the radio bridge's serial line (pyserial).

Reads frames (firmware/bridge_frame.py) from the port without blocking the
event loop, writes TX frames, and survives the radio being unplugged: it
retries every second and logs once when the port goes and once when it is
back. Bad bytes on the line are counted and logged once per kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

import serial

from firmware.lora import bridge_frame
from firmware.lora.bridge_frame import Hello, Rx, Tx, TxResult
from gateway.tasks import cancel

log = logging.getLogger("gateway.radio")

RETRY_S = 1.0
READ_CHUNK = 4096

Frame = Rx | Tx | TxResult | Hello


class RadioLink:
    """`on_frame` gets every good frame the bridge sends, in order."""

    def __init__(self, path: str, baud: int, on_frame: Callable[[Frame], None]) -> None:
        self.path = path
        self.baud = baud
        self.on_frame = on_frame
        self.counts: Counter[str] = Counter()
        self._port: serial.SerialBase | None = None
        self._reader = bridge_frame.FrameReader()
        self._seen = self._reader.counts()
        self._warned: set[str] = set()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ever_open = False

    @property
    def connected(self) -> bool:
        return self._port is not None

    async def start(self) -> None:
        """Open the port if it is there; keep trying in the background if not."""
        self._open_or_log(first=True)
        self._task = asyncio.create_task(self._supervise(), name="radio-link")

    async def stop(self) -> None:
        await cancel(self._task)
        self._close()

    def send(self, data: bytes) -> bool:
        """Write one encoded frame; False when the radio is not connected."""
        port = self._port
        if port is None:
            return False
        try:
            port.write(data)
        except (OSError, serial.SerialException) as e:
            self._drop(e)
            return False
        self.counts["written"] += 1
        return True

    def _open_or_log(self, first: bool = False) -> bool:
        try:
            port = serial.serial_for_url(self.path, baudrate=self.baud, timeout=0,
                                         write_timeout=2)
        except (OSError, serial.SerialException, ValueError) as e:
            if first:
                log.warning("radio on %s not available: %s; retrying every %.0f s",
                            self.path, _why(e), RETRY_S)
            return False
        self._port = port
        self._reader = bridge_frame.FrameReader()  # a partial frame from before is gone
        self._seen = self._reader.counts()
        self._lost.clear()
        try:
            port.reset_input_buffer()
        except (OSError, serial.SerialException):
            pass
        asyncio.get_running_loop().add_reader(port.fileno(), self._readable)
        log.info("radio on %s %s", self.path, "back" if self._ever_open else "open")
        self._ever_open = True
        return True

    async def _supervise(self) -> None:
        while True:
            if self._port is not None:
                await self._lost.wait()
                continue
            await asyncio.sleep(RETRY_S)
            self._open_or_log()

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        try:
            asyncio.get_running_loop().remove_reader(port.fileno())
        except (OSError, ValueError, serial.SerialException):
            pass
        try:
            port.close()
        except (OSError, serial.SerialException):
            pass

    def _drop(self, error: Exception) -> None:
        if self._port is None:
            return
        self._close()
        self.counts["lost"] += 1
        log.warning("radio on %s lost: %s; retrying every %.0f s", self.path, _why(error),
                    RETRY_S)
        self._lost.set()

    def _readable(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            data = port.read(READ_CHUNK)
            if not data:
                # Readable with nothing to read: the other end hung up.
                raise serial.SerialException("the device hung up")
        except (OSError, serial.SerialException) as e:
            self._drop(e)
            return
        for body in self._reader.feed(data):
            try:
                frame = bridge_frame.decode(body)
            except bridge_frame.FrameError as e:
                self._bad(e.reason, f"{e}")
                continue
            if isinstance(frame, Tx):
                self._bad("wrong direction", "a TX frame came from the radio, which only "
                                             "the gateway sends")
                continue
            self.counts["frames"] += 1
            try:
                self.on_frame(frame)
            except Exception as e:  # one frame must not stop the reading
                self._bad("not handled", f"{type(e).__name__}: {e}")
        now = self._reader.counts()
        for kind, n in now.items():
            if n > self._seen[kind]:
                self._bad(kind, "dropped", n - self._seen[kind])
        self._seen = now

    def _bad(self, kind: str, detail: str, n: int = 1) -> None:
        self.counts[kind] += n
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("radio on %s: %s (%s); counted, further ones are not logged; "
                        "check the bridge's firmware and cable", self.path, kind, detail)


def _why(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__
