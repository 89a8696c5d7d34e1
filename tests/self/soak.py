"""How many rounds the healthy-demo soak tests run: a few in `make test`, the full count under SYNTHGATE_SOAK=1
(`benchmarks/soak.py` runs them that way and records the result)."""

from __future__ import annotations

import os


def rounds(full: int, quick: int) -> int:
    """`full` rounds in a soak run, else `quick` (enough to catch state that leaks from one round to the next)."""
    return full if os.environ.get("SYNTHGATE_SOAK") == "1" else quick
