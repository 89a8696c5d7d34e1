"""What machine a benchmark ran on: every results file records it beside its figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> float:
    """The 1-minute load average (the machine may be shared)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def describe() -> str:
    """Cores, CPU model, kernel and Python, on one line."""
    return (f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}, "
            f"Linux {platform.release()}, Python {platform.python_version()}")
