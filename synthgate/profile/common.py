"""Shared building blocks of the profile model: strict base, durations, status sets."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class Strict(BaseModel):
    """A profile section: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def parse_duration(value: Any) -> float:
    """Seconds from 300, "300s", "5m", "250ms", "2h", "7d"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 2h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return float(m.group(1)) * _UNIT_S[m.group(2)]
    raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {value!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _status_set(value: Any) -> list[int]:
    if isinstance(value, bool):
        raise ValueError("expected an HTTP status, a list of statuses, or a class such as 4xx")
    items = value if isinstance(value, list) else [value]
    out: list[int] = []
    for item in items:
        if isinstance(item, str) and re.fullmatch(r"[1-5]xx", item.strip()):
            base = int(item.strip()[0]) * 100
            out.extend(range(base, base + 100))
        elif isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            out.append(item)
        elif isinstance(item, str) and item.isdigit() and 100 <= int(item) <= 599:
            out.append(int(item))
        else:
            raise ValueError(f"expected an HTTP status (100-599) or a class such as 4xx, got {item!r}")
    return out


StatusSet = Annotated[list[int], BeforeValidator(_status_set)]


def _regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a regular expression string")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"expected a valid regular expression: {exc}") from None
    return value


Regex = Annotated[str, BeforeValidator(_regex)]
