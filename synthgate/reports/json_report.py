"""verdict.json: the machine-readable verdict (contract in DESIGN.md); raw load samples go beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from synthgate.redact import redactor
from synthgate.results import Verdict


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write(verdict: Verdict, reports_dir: Path) -> Path:
    """Write verdict.json atomically (redacted), and load/samples.json when the load stage recorded samples
    (bulky raw data, kept out of verdict.json, read back by --baseline DIR)."""
    data = verdict.model_dump(mode="json")
    raw: dict[str, dict] = {}
    for stage in verdict.stages:
        if stage.samples_ms or stage.histograms:
            raw = {"samples_ms": stage.samples_ms, "histograms": stage.histograms}
    path = reports_dir / "verdict.json"
    _atomic_write(path, redactor(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    if raw:
        _atomic_write(reports_dir / "load" / "samples.json", json.dumps(raw))
    return path
