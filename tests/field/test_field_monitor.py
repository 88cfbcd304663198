"""`kvarter node monitor` on a real serial line (pyserial's socket:// and a
pty): each line with the laptop's time, nothing sent to the node, an
unplugged node waited for and picked up again, Ctrl-C ending cleanly."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import free_tcp_port, one_line_error

STAMPED = re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d  ")


class Reader:
    """The monitor's stdout, line by line, with a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.out = proc.stdout
        os.set_blocking(self.out.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.out, selectors.EVENT_READ)
        self.buf = b""
        self.lines: list[str] = []

    def until(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    self.lines = self.lines[self.lines.index(line) + 1:]
                    return line
            self.sel.select(0.1)
            chunk = self.out.read() or b""
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append(line.decode())
        raise AssertionError(f"no {text!r} from the monitor; got {self.lines}")


def start_monitor(port: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "node", "monitor", "--port", port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    port = free_tcp_port()
    srv = socket.create_server(("127.0.0.1", port))
    yield srv, port
    srv.close()


def test_lines_are_stamped_and_the_node_is_waited_for_when_unplugged(
        listener: tuple[socket.socket, int]) -> None:
    srv, port = listener
    proc = start_monitor(f"socket://127.0.0.1:{port}")
    out = Reader(proc)
    try:
        srv.settimeout(10)
        node, _ = srv.accept()
        out.until("monitoring")  # the port is open (opening drops what came before)
        node.sendall(b"report 1 stored\r\nwoke after 3600 s\r\n")
        assert STAMPED.match(out.until("report 1 stored"))
        assert STAMPED.match(out.until("woke after 3600 s"))
        # Unplugged: the line goes, and nothing listens for a while.
        node.close()
        srv.close()
        assert "waiting for it to come back" in out.until("is gone")
        time.sleep(1.0)
        srv2 = socket.create_server(("127.0.0.1", port))
        srv2.settimeout(10)
        node, _ = srv2.accept()
        out.until("is back")
        node.sendall(b"report 2 stored\r\n>>> ")
        assert STAMPED.match(out.until("report 2 stored"))
        assert out.until(">>>")  # a prompt without a line end still shows
        node.settimeout(0.3)
        with pytest.raises(TimeoutError):
            node.recv(10)  # the monitor never sent the node a byte (no Ctrl-C, nothing)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "monitor stopped" in out.until("monitor stopped")
        node.close()
        srv2.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()


def test_a_pty_node_is_read_without_being_interrupted() -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    proc = start_monitor(name)
    out = Reader(proc)
    try:
        out.until("monitoring")
        os.write(master, b"L0003 presence 2 at 40%\r\n")
        assert STAMPED.match(out.until("L0003 presence 2 at 40%"))
        os.set_blocking(master, False)
        time.sleep(0.3)
        with pytest.raises(BlockingIOError):
            os.read(master, 10)  # nothing came back down the line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_no_device_is_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "tools.cli", "node", "monitor", "--port",
                           "/dev/ttyUSB55"], capture_output=True, text=True, timeout=30)
    assert "no device on /dev/ttyUSB55" in one_line_error(proc)
