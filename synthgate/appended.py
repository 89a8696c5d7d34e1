"""What other processes appended to a shared line file since this process last looked: the run's secrets share
(redact.py) and the cold-start ledger (checks/cold.py) are read this way, a few new bytes per look. The ledgers'
JSON lines are parsed here too (checks/cold.py, checks/seen.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def lines_since(path: Path, offset: int) -> tuple[list[bytes], int]:
    """The complete lines appended to `path` after byte `offset`, and the offset after them.

    A line still being written (no newline yet) waits for the next look; a file now shorter than `offset` was begun
    afresh and is read from its start; a file that cannot be read has nothing new."""
    try:
        size = os.stat(path).st_size
        if size == offset:
            return [], offset
        start = offset if size > offset else 0
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
    except OSError:
        return [], offset
    complete = data.rfind(b"\n") + 1
    return data[:complete].splitlines(), start + complete


def json_objects(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects among `lines`; a line cut by a killed process (or anything but an object) is skipped."""
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            yield item
