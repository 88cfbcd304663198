"""A virtual ESP32 node on a serial device, for the real mpremote and the
technician's tools: MicroPython's WebAssembly VM with the ESP32's hardware
simulated under it (sim/vnode), so that the unchanged firmware boots on it.

    with VirtualNode(tmp_path, wifi={"city-iot": "secret"}, fill_mm=600) as vn:
        subprocess.run(["mpremote", "connect", vn.device, "exec", "print(1)"])
        vn.output()  # what the node printed on its serial line

The serial device is a pty (`/dev/pts/N`, like a USB serial adapter) or a
TCP port that pyserial opens as `socket://127.0.0.1:PORT`. The node's files,
NVS and (across resets other than power-on) RTC memory last as long as the
VirtualNode. Its street: which Wi-Fi networks are in reach (SSID ->
password; UDP then reaches the real host's network), and what its sensors
measure, which set() changes while it runs.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import threading
import time
import tty
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

VNODE_DIR = Path(__file__).resolve().parent / "vnode"
HOST = VNODE_DIR / "host.mjs"
PORT_DIR = VNODE_DIR / "port"
SERIALS = ("pty", "socket")
FILL_SENSORS = ("ultrasonic", "tof")
# What set() may change, and the types it takes.
STREET: dict[str, tuple[type, ...]] = {
    "fill_mm": (int, float), "battery_mv": (int, float), "temp_c": (int, float, type(None)),
    "tilt_deg": (int, float, type(None)), "lid_open": (bool, type(None)),
    "lux": (int, float, type(None)), "motion": (bool,), "fill_sensor": (str,),
}
START_TIMEOUT_S = 20.0


class VirtualNodeError(RuntimeError):
    """The virtual node could not start, or is not running."""


def _check_street(values: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if key not in STREET:
            raise ValueError(f"unknown sensor value {key!r}: use {', '.join(STREET)}")
        if not isinstance(value, STREET[key]) or (isinstance(value, bool)
                                                   and bool not in STREET[key]):
            raise ValueError(f"{key} cannot be {value!r}")
    if values.get("fill_sensor", "ultrasonic") not in FILL_SENSORS:
        raise ValueError(f"fill_sensor must be one of {', '.join(FILL_SENSORS)}")
    for key in ("fill_mm", "battery_mv"):
        if key in values and values[key] < 0:
            raise ValueError(f"{key} must not be negative, got {values[key]}")
    return dict(values)


class VirtualNode:
    def __init__(self, workdir: Path | str, *, wifi: Mapping[str, str] | None = None,
                 fill_mm: float = 600, battery_mv: float = 3600, temp_c: float | None = None,
                 tilt_deg: float | None = None, lid_open: bool | None = None,
                 fill_sensor: str = "ultrasonic", lux: float | None = None,
                 motion: bool = False, serial: str = "pty", log: Path | str | None = None,
                 clock_scale: float = 1.0, max_sleep_s: float | None = None,
                 wiring: Mapping[str, int] | None = None, name: str = "vnode",
                 tcp_port: int = 0) -> None:
        """workdir: where the node's config and log go. clock_scale: how many
        times faster than real time the node's clock runs (its timeouts and
        sleeps shrink alike). max_sleep_s: the longest a deep sleep really
        lasts, so that a sleeping bin node wakes soon in a test."""
        if serial not in SERIALS:
            raise ValueError(f"serial must be one of {', '.join(SERIALS)}, got {serial!r}")
        if clock_scale <= 0:
            raise ValueError(f"clock_scale must be above 0, got {clock_scale}")
        if max_sleep_s is not None and max_sleep_s < 0:
            raise ValueError(f"max_sleep_s must not be negative, got {max_sleep_s}")
        for ssid, password in (wifi or {}).items():
            if not isinstance(ssid, str) or not isinstance(password, str):
                raise ValueError("wifi maps SSIDs to passwords, both strings")
        self.workdir = Path(workdir)
        self.log_path = Path(log) if log is not None else self.workdir / "serial.log"
        self.serial = serial
        self.street = _check_street({
            "fill_mm": fill_mm, "battery_mv": battery_mv, "temp_c": temp_c,
            "tilt_deg": tilt_deg, "lid_open": lid_open, "fill_sensor": fill_sensor,
            "lux": lux, "motion": motion})
        self.config: dict[str, Any] = {
            "name": name, "port_dir": str(PORT_DIR), "log": str(self.log_path),
            "clock_scale": clock_scale, "wifi": dict(wifi or {}),
            "board": {"street": self.street, "wiring": dict(wiring or {})},
        }
        if max_sleep_s is not None:
            self.config["max_sleep_ms"] = max_sleep_s * 1000
        self.tcp_port = tcp_port
        self.device = ""  # what `mpremote connect` takes
        self.pty = ""  # the pty behind it (serial="pty")
        self._proc: subprocess.Popen[bytes] | None = None
        self._slave: int | None = None
        self._answers: dict[int, dict[str, Any]] = {}
        self._answered = threading.Condition()
        self._next_id = 0
        self._reader: threading.Thread | None = None

    # --- life ------------------------------------------------------------------
    def start(self) -> VirtualNode:
        if self._proc is not None:
            raise VirtualNodeError("the virtual node is running already")
        node = shutil.which("node")
        if node is None:
            raise VirtualNodeError("the virtual node needs Node.js 20 (`node` on PATH): "
                                   "install it, then run 'make setup'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        config = dict(self.config)
        pass_fds: tuple[int, ...] = ()
        master = -1
        if self.serial == "pty":
            master, self._slave = os.openpty()
            # Raw from the start: a tty's defaults would echo the node's own
            # output back to it before a program has opened the device.
            tty.setraw(self._slave)
            os.set_blocking(master, False)
            self.pty = os.ttyname(self._slave)
            # A link to the pty, as a USB serial adapter's device node: mpremote
            # treats a /dev/pts/N path as QEMU's (blocking reads, no timeouts),
            # a node that does not answer would hang it instead of failing.
            link = self.workdir / "ttyUSB0"
            link.unlink(missing_ok=True)
            link.symlink_to(self.pty)
            self.device = str(link)
            config["serial"] = {"pty_fd": master}
            pass_fds = (master,)
        else:
            config["serial"] = {"tcp_port": self.tcp_port}
        config_path = self.workdir / "vnode.json"
        config_path.write_text(json.dumps(config))
        with open(self.workdir / "host.log", "ab") as errors:
            self._proc = subprocess.Popen(
                [node, str(HOST), str(config_path)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=errors, pass_fds=pass_fds)
        if master >= 0:
            os.close(master)
        first = self._read_line(START_TIMEOUT_S)
        if first is None:
            self.stop()
            raise VirtualNodeError(f"the virtual node did not start: {self.host_error()}")
        if self.serial == "socket":
            self.device = str(json.loads(first)["device"])
        self._reader = threading.Thread(target=self._read_answers, daemon=True)
        self._reader.start()
        return self

    def stop(self) -> None:
        proc = self._proc
        if proc is not None:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # the host ends when its control line closes
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=5)
                self._reader = None
            if proc.stdout is not None:
                proc.stdout.close()
            self._proc = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
            # Unplugged: the device node goes.
            Path(self.device).unlink(missing_ok=True)

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> VirtualNode:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- what it printed ---------------------------------------------------------
    def output(self) -> str:
        """Everything the node has printed on its serial line so far."""
        return self.log_path.read_bytes().decode(errors="replace")

    def wait_for(self, text: str, timeout: float = 10.0, after: int = 0) -> str:
        """The output once `text` appears in it past character `after`."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.output()
            if text in out[after:]:
                return out
            if not self.running():
                raise VirtualNodeError(f"the virtual node stopped: {self.host_error()}")
            if time.monotonic() > deadline:
                tail = out[-600:]
                raise TimeoutError(f"no {text!r} from the node within {timeout:g} s; "
                                   f"it printed last:\n{tail}")
            time.sleep(0.02)

    # --- the street and the board ----------------------------------------------
    def set(self, **values: Any) -> None:
        """Change what the sensors measure, e.g. set(fill_mm=200)."""
        self.street.update(_check_street(values))
        self._ask({"t": "set", "values": values})

    def press_reset(self) -> None:
        """The EN button: the chip restarts as from power-on (RTC memory lost)."""
        self._send({"t": "button"})

    def status(self) -> dict[str, Any]:
        """The street as the node sees it, its PWM outputs and Wi-Fi status."""
        value = self._ask({"t": "status"})
        return value if isinstance(value, dict) else {}

    # --- the host process's lines ------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise VirtualNodeError("the virtual node is not running: start it first")
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    def _ask(self, message: dict[str, Any], timeout: float = 10.0) -> Any:
        with self._answered:
            self._next_id += 1
            ident = self._next_id
        self._send({**message, "id": ident})
        deadline = time.monotonic() + timeout
        with self._answered:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running():
                    raise VirtualNodeError("the virtual node did not answer")
                self._answered.wait(min(left, 0.2))
            answer = self._answers.pop(ident)
        if not answer.get("ok"):
            raise ValueError(str(answer.get("error")))
        return answer.get("value")

    def _read_line(self, timeout: float) -> str | None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        raw = proc.stdout.readline()
        return raw.decode() if raw else None

    def _read_answers(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for raw in proc.stdout:
            try:
                answer = json.loads(raw)
            except ValueError:
                continue
            if isinstance(answer, dict) and "id" in answer:
                with self._answered:
                    self._answers[int(answer["id"])] = answer
                    self._answered.notify_all()

    def host_error(self) -> str:
        """The host process's last error line, if it wrote one."""
        path = self.workdir / "host.log"
        lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return lines[-1] if lines else "no message"
