"""Report writers: one module per format, each reading the same Verdict.

Writers register in WRITERS; `write_all` runs every one and never lets one writer's failure stop the others.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

from synthgate.reports import json_report
from synthgate.results import Verdict

# module name -> what it writes (documentation for `synthgate report --help`)
WRITERS: dict[str, str] = {
    "json_report": "verdict.json",
    "markdown": "summary.md",
    "junit": "junit.xml",
    "html": "report.html",
    "ci": "CI-native output (GitHub Actions, GitLab CI)",
}


def write_verdict_json(verdict: Verdict, reports_dir: Path) -> Path:
    """Write verdict.json alone (after each stage, so a crash later still leaves it)."""
    return json_report.write(verdict, reports_dir)


def write_all(verdict: Verdict, reports_dir: Path, problems: list[str] | None = None) -> list[Path]:
    """Write every report format; a failing writer is logged (and added to `problems`), the others still run."""
    written = []
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"synthgate: the reports directory {reports_dir} cannot be made: {exc}", file=sys.stderr)
        if problems is not None:
            problems.append(f"{reports_dir}: {exc}")
        return written
    for name in WRITERS:
        try:
            out = importlib.import_module(f"synthgate.reports.{name}").write(verdict, reports_dir)
        except Exception as exc:  # noqa: BLE001 - one broken writer must not lose the other reports
            print(f"synthgate: the {name} report could not be written: {exc}", file=sys.stderr)
            if problems is not None:
                problems.append(f"{WRITERS[name]}: {exc.__class__.__name__}: {exc}")
            continue
        if out is not None:
            written.append(out)
    return written


def copy_evidence(verdict: Verdict, source: Path, target: Path) -> list[Path]:
    """Copy the checks' evidence files from a saved run's dir to another (for `synthgate report --out`)."""
    root, copied = source.resolve(), []
    if target.resolve() == root:
        return copied
    for _, check in verdict.all_checks():
        for rel in check.evidence:
            src = (root / rel).resolve()
            if not src.is_relative_to(root) or not src.is_file():  # never copy from outside the run's dir
                continue
            dst = target / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied.append(dst)
    return copied
