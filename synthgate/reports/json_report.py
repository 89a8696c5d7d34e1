"""verdict.json: the machine-readable verdict (contract in DESIGN.md); raw load samples go beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from synthgate.redact import redactor
from synthgate.results import Verdict

# bulky raw data of the load stage: kept out of verdict.json, written to load/samples.json for --baseline DIR
RAW_KEYS = ("samples_ms", "histograms")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write(verdict: Verdict, reports_dir: Path) -> Path:
    """Write verdict.json atomically (redacted), and load/samples.json when the load stage recorded samples."""
    data = verdict.model_dump(mode="json")
    raw: dict[str, dict] = {}
    for stage in data["stages"]:
        for key in RAW_KEYS:
            if key in stage.get("details", {}):
                raw[key] = stage["details"].pop(key)
    path = reports_dir / "verdict.json"
    _atomic_write(path, redactor(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    if raw:
        _atomic_write(reports_dir / "load" / "samples.json", json.dumps(raw))
    return path
