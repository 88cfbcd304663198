"""Bad input to `kvarter gateway run` (a host that does not resolve, a file
that is not a database, a port out of range) gets one line, no traceback and
a non-zero exit, instead of a traceback or a gateway that starts and never
reaches its broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line_error


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", "gateway", "run",
                           "--db", str(tmp_path / "g.sqlite"), "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, expect", [
    (("--host", "nosuchhost.invalid"), "--host 'nosuchhost.invalid' does not resolve"),
    (("--mqtt", "nosuchhost.invalid"), "--mqtt 'nosuchhost.invalid' does not resolve"),
    (("--port", "70000"), "port must be 0..65535"),
    (("--port", "-1"), "port must be 0..65535"),
    (("--mqtt", "127.0.0.1", "--mqtt-port", "65536"), "mqtt_port must be 1..65535"),
])
def test_bad_addresses_get_one_line(tmp_path: Path, args: tuple[str, ...], expect: str) -> None:
    assert expect in one_line_error(_run(tmp_path, *args))


def test_a_file_that_is_not_a_database_gets_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_bytes(b"shopping list: milk, bread, " * 40)
    line = one_line_error(_run(tmp_path, "--db", str(bad)))
    assert "is not a gateway database" in line
    line = one_line_error(subprocess.run(
        [sys.executable, "-m", "tools.cli", "gateway", "summary", "--db", str(bad)],
        capture_output=True, text=True, timeout=60))
    assert "is not a gateway database" in line
    assert bad.read_bytes().startswith(b"shopping list")  # left as it was
