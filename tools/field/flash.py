"""`kvarter node flash`: MicroPython onto the chip with esptool, Espressif's
own tool, run as a program: detect the chip, erase, write, verify. Its output
gives the progress, and its failures become one line each."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tools.field.errors import FieldError
from tools.field.image import (
    check_for_chip,
    chip_from_name,
    chip_name,
    flash_offset,
    read_image,
)
from tools.field.progress import Reporter
from tools.field.serial_port import busy, no_device

DEFAULT_BAUD = 460800  # what esptool's stub writes at over most USB-UART bridges
DETECT_BAUD = 115200  # the ROM bootloader's own speed
CONNECT_ATTEMPTS = 3  # a board that is not in its bootloader is told soon
PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
DETECTED = re.compile(r"Detecting chip type\.*\s*(ESP[\w-]+)|Chip is (ESP[\w-]+?)(?:\s|$)")
BOOT_HINT = ("hold the BOOT button, press and release EN (reset), let go of BOOT, and retry")


def esptool_major() -> int:
    try:
        return int(version("esptool").split(".")[0])
    except (PackageNotFoundError, ValueError):
        raise FieldError("esptool is not installed: run 'make setup' (or "
                         "'.venv/bin/pip install -e .') and retry") from None


def spelled(command: str, major: int | None = None) -> str:
    """esptool 5 names its commands write-flash, erase-flash; version 4 and
    older write_flash, erase_flash."""
    major = esptool_major() if major is None else major
    return command.replace("_", "-") if major >= 5 else command.replace("-", "_")


def esptool_argv(command: str, port: str, *args: str, chip: str = "auto",
                 baud: int = DETECT_BAUD, major: int | None = None) -> list[str]:
    """The esptool command line for one step."""
    return [sys.executable, "-m", "esptool", "--chip", chip, "--port", port, "--baud", str(baud),
            "--connect-attempts", str(CONNECT_ATTEMPTS), spelled(command, major), *args]


def detected_chip(output: str) -> str | None:
    """The chip esptool found ("esp32s3"), from what it printed."""
    for m in DETECTED.finditer(output):
        name = m.group(1) or m.group(2)
        # "ESP32-D0WD-V3" is an ESP32: try the longest known prefix.
        parts = name.split("-")
        for n in range(len(parts), 0, -1):
            chip = chip_from_name("-".join(parts[:n]))
            if chip is not None:
                return chip
    return None


def failure(port: str, output: str) -> FieldError:
    """The one line for esptool's failure, from what it printed."""
    text = output.replace("\r", "\n")
    if "Could not open" in text or "could not open port" in text:
        if re.search(r"exclusively lock|Errno 11\]|Errno 16\]|Resource temporarily|"
                     r"Device or resource busy|Access is denied", text):
            return busy(port)
        if re.search(r"Permission denied|Errno 13\]", text):
            return FieldError(f"no permission to open {port}: add yourself to the dialout group "
                              "('sudo usermod -aG dialout $USER'), log out and in, and retry")
        return no_device(port)
    m = re.search(r"This chip is (\S+), not (\S+?)\.? ", text)
    if m:
        return FieldError(f"wrong chip: the board on {port} is an {m.group(1)}, not an "
                          f"{m.group(2)}: leave --chip out, or give the board's chip",
                          short="wrong chip")
    m = re.search(r"(?:is not|does not contain) an? (\S+) image", text)
    if m:
        return FieldError(f"the image is not for this board's chip ({m.group(1)}): download "
                          f"the {m.group(1)} build from micropython.org/download",
                          short="image for another chip")
    m = re.search(r"requires chip revision ([^.]+)", text)
    if m:
        return FieldError(f"the image needs chip revision {m.group(1).strip()}: download the "
                          "build for older chips from micropython.org/download")
    if re.search(r"Failed to connect|No serial data received|Wrong boot mode|"
                 r"Invalid head of packet|Timed out waiting for packet", text):
        return FieldError(f"no ESP32 bootloader answers on {port}: {BOOT_HINT}",
                          short="failed to connect")
    fatal = [ln.split("A fatal error occurred:", 1)[1].strip()
             for ln in text.splitlines() if "A fatal error occurred:" in ln]
    last = fatal[-1] if fatal else next(
        (ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no output")
    return FieldError(f"esptool failed on {port}: {last}; unplug the node, plug it in again "
                      "and retry")


def run_esptool(argv: list[str], port: str,
                on_percent: Callable[[float], None] | None = None) -> str:
    """Run one esptool step; returns its output, raises FieldError on failure.
    on_percent is given each percentage esptool reports."""
    env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="200")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", env=env)
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if on_percent is not None:
                for m in PERCENT.finditer(line):
                    on_percent(float(m.group(1)))
        code = proc.wait()
    except BaseException:
        proc.kill()  # Ctrl-C: esptool must not go on writing half an image
        proc.wait()
        raise
    output = "".join(lines)
    if code != 0:
        raise failure(port, output)
    return output


@dataclass(frozen=True)
class Flashed:
    chip: str
    offset: int
    size: int


def flash(image: Path, port: str, reporter: Reporter, baud: int = DEFAULT_BAUD,
          chip: str | None = None) -> Flashed:
    """Detect, check the image against the chip, erase, write, verify."""
    info = read_image(image)  # a wrong file is refused before the port is touched
    out = run_esptool(esptool_argv("read-mac", port, chip=chip or "auto"), port)
    found = detected_chip(out) or chip
    if found is None:
        raise FieldError(f"esptool did not say which chip is on {port}: {BOOT_HINT}")
    reporter.say(f"board      {chip_name(found)} on {port}")
    check_for_chip(info, found, image)
    offset = flash_offset(found)
    with reporter.bar("erasing  ", 1) as done:
        run_esptool(esptool_argv("erase-flash", port, chip=found, baud=baud), port)
        done(1)
    reporter.say("erased     the whole flash")
    with reporter.bar("writing  ", 1000) as done:
        run_esptool(esptool_argv("write-flash", port, f"0x{offset:x}", str(image), chip=found,
                                 baud=baud), port, lambda pct: done(int(pct * 10)))
    reporter.say(f"written    {info.size} bytes at 0x{offset:x}")
    with reporter.bar("verifying", 1000) as done:
        run_esptool(esptool_argv("verify-flash", port, f"0x{offset:x}", str(image), chip=found,
                                 baud=baud), port, lambda pct: done(int(pct * 10)))
    reporter.say("verified   the flash matches the image")
    return Flashed(found, offset, info.size)
