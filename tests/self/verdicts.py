"""Reading a gate's verdict.json in self-tests: one helper instead of each file parsing it by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgate.results import Verdict


def read_verdict(reports: Path) -> dict[str, Any]:
    """The verdict.json of a reports folder, as the JSON a CI job reads (the file, or a folder holding it)."""
    path = reports if reports.name == "verdict.json" else reports / "verdict.json"
    return json.loads(path.read_text(encoding="utf-8"))


def load_verdict(reports: Path) -> Verdict:
    """The verdict.json of a reports folder as the typed model (which validates it)."""
    return Verdict.load_file(reports / "verdict.json")


def checks_by_id(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every check of every stage, by id (a later stage's check of the same id wins)."""
    return {c["id"]: c for stage in verdict["stages"] for c in stage["checks"]}


def failed_ids(verdict: dict[str, Any]) -> set[str]:
    """The ids of the failed checks."""
    return {c["id"] for stage in verdict["stages"] for c in stage["checks"] if c["status"] == "failed"}
