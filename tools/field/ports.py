"""`kvarter node ports`: the serial ports and what answers on each."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import serial.tools.list_ports

from tools.field.errors import FieldError
from tools.field.probe import probe


@dataclass(frozen=True)
class PortReport:
    device: str
    description: str  # the USB adapter, as the system names it
    answer: str  # the node's MicroPython and board, or why there is none


def _description(p: object) -> str:
    text = str(getattr(p, "description", "") or "")
    return "" if text in ("n/a", getattr(p, "device", None)) else text


def survey(extra: Sequence[str] = (), timeout: float = 2.0) -> list[PortReport]:
    """Every port the system lists, plus `extra` (ptys, socket:// URLs), each
    probed at once in parallel, so the whole survey takes about one timeout."""
    found = {p.device: _description(p) for p in serial.tools.list_ports.comports()}
    for dev in extra:
        found.setdefault(dev, "given with --port")

    def one(dev: str) -> str:
        try:
            # The node's program is started again afterwards: listing the
            # ports must not leave a node stopped at its prompt.
            return probe(dev, timeout, resume=True).describe()
        except FieldError as e:
            return e.short

    devices = sorted(found)
    if not devices:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(devices))) as pool:
        answers = list(pool.map(one, devices))
    return [PortReport(d, found[d], a) for d, a in zip(devices, answers, strict=True)]


def format_survey(reports: Sequence[PortReport]) -> str:
    if not reports:
        return "no serial ports: plug the node in with a data cable (a charging cable has no data)"
    width = max(len(r.device) for r in reports)
    dwidth = max(len(r.description) for r in reports)
    return "\n".join(f"{r.device:<{width}}  {r.description:<{dwidth}}  {r.answer}".rstrip()
                     for r in reports)
