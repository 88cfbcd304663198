# The ESP32's USB serial port as a raw byte link to the gateway (the radio
# bridge role). The port is MicroPython's console, so the REPL must not see
# the frames: Ctrl-C (0x03 can occur inside any frame) is switched off, and
# nothing else may print while the bridge runs.
import select
import sys

import micropython

READ_MAX = 512  # per call, so one busy line cannot starve the radios


class UsbSerial:
    def __init__(self):
        micropython.kbd_intr(-1)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self):
        """What has arrived, without waiting; None when nothing has."""
        out = bytearray()
        # stdin's read(n) blocks until n bytes came: one byte per ready poll.
        while len(out) < READ_MAX and self._poll.poll(0):
            b = self._in.read(1)
            if not b:
                break
            out.extend(b)
        return bytes(out) if out else None

    def write(self, data):
        self._out.write(data)
