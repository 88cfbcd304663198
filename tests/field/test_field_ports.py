"""`kvarter node ports` never hangs on a port with nothing behind it, and names
what is wrong with each port it cannot ask."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import free_tcp_port


def test_silent_and_missing_ports_are_listed_with_why() -> None:
    master, slave = os.openpty()
    silent = os.ttyname(slave)
    os.close(slave)
    nobody = f"socket://127.0.0.1:{free_tcp_port()}"
    try:
        out = subprocess.run([sys.executable, "-m", "tools.cli", "node", "ports", "--port",
                              silent, "--port", nobody, "--timeout", "1"],
                             capture_output=True, text=True, timeout=60)
    finally:
        os.close(master)
    assert out.returncode == 0, out.stderr
    lines = {ln.split()[0]: ln for ln in out.stdout.splitlines()}
    assert "no REPL answer" in lines[silent]
    assert "no device" in lines[nobody]
