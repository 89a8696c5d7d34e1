"""Run every benchmark in turn; each writes its own RESULTS-*.md with the machine and date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["load_generator.py", "e2e_wall_time.py", "e2e_browser_cpu.py", "fuzz_rate.py", "probe_throughput.py",
           "store_throughput.py", "soak.py"]


def main() -> int:
    """Run each script; the exit code is the number of scripts that failed."""
    failed = 0
    for name in SCRIPTS:
        print(f"== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
