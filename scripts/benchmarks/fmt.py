"""How numbers and verdicts are written in the report."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**PASS**" if ok else "**MISS**")


def spread(s: dict[str, float], digits: int = 1) -> str:
    return f"{fmt(s['median'], digits)} ({fmt(s['p25'], digits)}–{fmt(s['p75'], digits)})"
