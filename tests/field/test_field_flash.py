"""Flashing with the real esptool as far as it goes without a chip: the command
lines built for each chip, the image checked before the port is touched, and
every failure on the port as one line."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.field.errors import FieldError
from tools.field.flash import detected_chip, esptool_argv, failure, spelled
from tools.field.image import check_for_chip, chip_for_id, flash_offset, parse_header, read_image


def image_bytes(chip_id: int, segments: int = 1) -> bytes:
    """A small but well-formed ESP32-family app image for the chip id."""
    header = struct.pack("<BBBBI", 0xE9, segments, 2, 0x20, 0x40080000)
    extended = struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", chip_id, 0, 0, 0xFFFF, b"\0" * 4, 0)
    body, checksum = b"", 0xEF
    for i in range(segments):
        data = bytes(range(16))
        for b in data:
            checksum ^= b
        body += struct.pack("<II", 0x3FFB0000 + 0x100 * i, len(data)) + data
    out = header + extended + body
    return out + b"\0" * (15 - len(out) % 16) + bytes([checksum])


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def pty_port() -> Iterator[tuple[int, str]]:
    """A serial port with nothing behind it: the master end of a pty, kept
    open and silent."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    yield master, name
    os.close(master)


def test_the_command_line_per_chip_offset_and_baud() -> None:
    assert esptool_argv("write-flash", "/dev/ttyUSB0", "0x1000", "mp.bin", chip="esp32",
                        baud=921600, major=5)[2:] == [
        "esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "921600",
        "--connect-attempts", "3", "write-flash", "0x1000", "mp.bin"]
    # esptool 4 and older spell their commands with underscores.
    assert esptool_argv("erase-flash", "COM3", major=4)[-1] == "erase_flash"
    assert spelled("verify_flash", 5) == "verify-flash"
    assert {c: flash_offset(c) for c in ("esp32", "esp32s2", "esp32s3", "esp32c3")} == {
        "esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}


def test_the_installed_esptool_knows_the_spelling_we_use() -> None:
    out = subprocess.run([sys.executable, "-m", "esptool", "--help"], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, COLUMNS="200")).stdout
    for command in ("read-mac", "erase-flash", "write-flash", "verify-flash"):
        assert f" {spelled(command)} " in out


@pytest.mark.parametrize("chip, chip_id", [("esp32", 0), ("esp32s3", 9), ("esp32c3", 5)])
def test_esptool_reads_the_chip_of_our_test_images_as_we_do(tmp_path: Path, chip: str,
                                                            chip_id: int) -> None:
    path = tmp_path / "mp.bin"
    path.write_bytes(image_bytes(chip_id))
    assert read_image(path).chip == chip == chip_for_id(chip_id)
    out = subprocess.run([sys.executable, "-m", "esptool", "image-info", str(path)],
                         capture_output=True, text=True, timeout=60).stdout
    assert f"Detected image type: {read_image(path).chip_name}" in out


def test_an_image_for_another_chip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ESP32_GENERIC_S3-20251209-v1.27.0.bin"
    path.write_bytes(image_bytes(9))
    with pytest.raises(FieldError, match="is for ESP32-S3, but the board is an ESP32: download "
                                         "the ESP32 build"):
        check_for_chip(read_image(path), "esp32", path)


def test_esptools_own_words_become_one_line_each() -> None:
    # The texts esptool prints (esptool/loader.py, esptool/cmds.py).
    wrong = failure("/dev/ttyUSB0", "A fatal error occurred: This chip is ESP32-S3, not ESP32. "
                                    "Wrong chip argument?")
    assert str(wrong).startswith("wrong chip: the board on /dev/ttyUSB0 is an ESP32-S3")
    image = failure("/dev/ttyUSB0", "A fatal error occurred: 'mp.bin' is not an ESP32-C3 image. "
                                    "Use --force to flash anyway.")
    assert "not for this board's chip (ESP32-C3)" in str(image)
    assert detected_chip("Connecting....\nDetecting chip type... ESP32-S3\n") == "esp32s3"
    assert detected_chip("Chip is ESP32-D0WD-V3 (revision v3.1)\n") == "esp32"
    other = failure("/dev/ttyUSB0", "A fatal error occurred: Flash ID is 0xFFFFFF\n")
    assert "esptool failed on /dev/ttyUSB0: Flash ID is 0xFFFFFF" in str(other)


def test_a_missing_image_or_another_file_is_refused_before_the_port(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB7")  # does not exist: the image is looked at first
    assert "no image at" in one_line_error(kvarter("node", "flash", str(tmp_path / "mp.bin"),
                                                   "--port", port))
    text = tmp_path / "notes.txt"
    text.write_text("not firmware")
    line = one_line_error(kvarter("node", "flash", str(text), "--port", port))
    assert "is not an ESP32 firmware image (it starts with 0x6E" in line


def test_no_device_on_the_port(tmp_path: Path) -> None:
    image = tmp_path / "mp.bin"
    image.write_bytes(image_bytes(0))
    line = one_line_error(kvarter("node", "flash", str(image), "--port", "/dev/ttyUSB77"))
    assert line.startswith("Error: no device on /dev/ttyUSB77")


def test_a_port_with_no_bootloader_behind_it(tmp_path: Path,
                                             pty_port: tuple[int, str]) -> None:
    image = tmp_path / "mp.bin"
    image.write_bytes(image_bytes(0))
    line = one_line_error(kvarter("node", "flash", str(image), "--port", pty_port[1]))
    assert "no ESP32 bootloader answers" in line and "hold the BOOT button" in line


def test_a_port_another_program_holds_is_busy(tmp_path: Path,
                                              pty_port: tuple[int, str]) -> None:
    image = tmp_path / "mp.bin"
    image.write_bytes(image_bytes(0))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import serial, sys, time\n"
         f"s = serial.Serial({pty_port[1]!r}, exclusive=True)\nprint('open', flush=True)\n"
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        line = one_line_error(kvarter("node", "flash", str(image), "--port", pty_port[1]))
        assert f"{pty_port[1]} is in use by python" in line and f"(pid {holder.pid})" in line
    finally:
        holder.kill()
        holder.wait()


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_any_bytes_are_an_image_or_refused_in_one_line(data: bytes) -> None:
    try:
        info = parse_header(data)
    except FieldError as e:
        assert "not an ESP32 firmware image" in str(e)
        return
    assert data[0] == 0xE9 and info.chip_id == int.from_bytes(data[12:14], "little")


@given(st.sampled_from([0, 2, 5, 9, 12, 13, 16]), st.integers(1, 16))
def test_the_chip_id_is_read_from_the_extended_header(chip_id: int, segments: int) -> None:
    info = parse_header(image_bytes(chip_id, segments))
    assert info.chip_id == chip_id and info.chip == chip_for_id(chip_id) is not None
