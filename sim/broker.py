"""A real MQTT broker (mosquitto) on a loopback port, for tests and
benchmarks that listen to what the gateway publishes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto is not installed: run 'make setup' (as root) first")
    return found


def start_mosquitto(port: int, conf_dir: Path) -> subprocess.Popen[bytes]:
    """A mosquitto broker on 127.0.0.1:port, anonymous and without
    persistence, accepting connections on return."""
    conf = conf_dir / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return run_mosquitto(conf, port)


def run_mosquitto(conf: Path, port: int) -> subprocess.Popen[bytes]:
    """mosquitto with this configuration, once it takes connections on
    127.0.0.1:port (a listener there is the caller's to configure)."""
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("mosquitto did not start") from None
            time.sleep(0.02)
