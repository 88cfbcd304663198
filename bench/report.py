"""The one-line result format every benchmark prints."""

from __future__ import annotations

import operator

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def line(name: str, value: float, unit: str, op: str, target: float) -> str:
    verdict = "ok" if OPS[op](value, target) else "short"
    shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"bench {name}: {shown} {unit} target {op} {target:g} {verdict}"
