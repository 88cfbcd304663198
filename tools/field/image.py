"""What a firmware file is before it goes near a chip: an ESP32-family image
(magic byte 0xE9), for which chip (the extended header's chip id), and where
in flash it belongs. The chips' ids and offsets are esptool's own tables."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.field.errors import FieldError

ESP_IMAGE_MAGIC = 0xE9
# The 8-byte image header (magic, segment count, flash mode, size/frequency,
# entry point), then the 16-byte extended header: WP pin, 3 bytes of SPI pin
# drive, then the chip id (u16, little-endian).
HEADER = struct.Struct("<BBBBI")
EXTENDED = struct.Struct("<B3sHBHH4sB")
MIN_SIZE = HEADER.size + EXTENDED.size


@dataclass(frozen=True)
class ImageInfo:
    chip_id: int
    chip: str | None  # esptool's name ("esp32", "esp32s3"), None for an id it does not know
    segments: int
    size: int

    @property
    def chip_name(self) -> str:
        return chip_name(self.chip) if self.chip else f"an unknown chip (id {self.chip_id})"


def _chips() -> dict[str, Any]:
    # Imported here: esptool is only needed once an image is looked at.
    from esptool.targets import CHIP_DEFS

    return {name: cls for name, cls in CHIP_DEFS.items() if name != "esp8266"}


def chip_for_id(chip_id: int) -> str | None:
    for name, cls in _chips().items():
        if getattr(cls, "IMAGE_CHIP_ID", None) == chip_id:
            return name
    return None


def chip_name(chip: str) -> str:
    """esptool's display name: "esp32s3" -> "ESP32-S3"."""
    cls = _chips().get(chip)
    return str(cls.CHIP_NAME) if cls is not None else chip.upper()


def chip_from_name(name: str) -> str | None:
    """The key for a display name as esptool prints it: "ESP32-S3" -> "esp32s3"."""
    for key, cls in _chips().items():
        if cls.CHIP_NAME == name.strip():
            return key
    return None


def flash_offset(chip: str) -> int:
    """Where the image starts in flash: after the ROM's reserved first 4 KiB on
    the ESP32 and S2, at 0 on the S3 and C3, 8 KiB on the C5 and P4."""
    return int(_chips()[chip].BOOTLOADER_FLASH_OFFSET)


def parse_header(data: bytes, name: str = "the image") -> ImageInfo:
    """Raises FieldError unless data starts an ESP32-family image."""
    if data and data[0] != ESP_IMAGE_MAGIC:
        raise FieldError(f"{name} is not an ESP32 firmware image (it starts with 0x{data[0]:02X}, "
                         "an image with 0xE9): download the .bin for your board from "
                         "micropython.org/download")
    if len(data) < MIN_SIZE:
        raise FieldError(f"{name} is not an ESP32 firmware image ({len(data)} bytes, too short): "
                         "download the .bin for your board from micropython.org/download")
    _magic, segments, _mode, _size_freq, _entry = HEADER.unpack_from(data)
    if not 1 <= segments <= 16:
        raise FieldError(f"{name} is not an ESP32 firmware image ({segments} segments): "
                         "download the .bin for your board from micropython.org/download")
    chip_id = EXTENDED.unpack_from(data, HEADER.size)[2]
    return ImageInfo(chip_id, chip_for_id(chip_id), segments, len(data))


def read_image(path: Path) -> ImageInfo:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FieldError(f"no image at {path}: check the file name (the .bin you downloaded "
                         "for the board)") from None
    except IsADirectoryError:
        raise FieldError(f"{path} is a folder: give the firmware .bin file inside it") from None
    except OSError as e:
        raise FieldError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_header(data, str(path))


def check_for_chip(info: ImageInfo, chip: str, path: Path) -> None:
    """Raises FieldError when the image is for another chip than the board's."""
    if info.chip != chip:
        raise FieldError(f"{path} is for {info.chip_name}, but the board is an "
                         f"{chip_name(chip)}: download the {chip_name(chip)} build from "
                         "micropython.org/download", short="image for another chip")
