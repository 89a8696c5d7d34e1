"""Evidence of failed journeys under reports/e2e/: screenshots, Playwright traces, console logs.

A Playwright trace records every action's arguments, DOM snapshots with input values and the network log,
so a secret typed into a form would be inside it. Every trace is rewritten after it is saved: registered
secret values (raw, JSON-, URL- and HTML-escaped) are replaced and sensitive headers and cookies are blanked.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from synthgate.redact import SENSITIVE_HEADERS, redactor

EVIDENCE_DIR = "e2e"
ARTEFACT_SUFFIXES = (".png", ".zip", ".log")


def evidence_dir(reports_dir: Path) -> Path:
    """reports/e2e, created on demand."""
    folder = reports_dir / EVIDENCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_stale(reports_dir: Path) -> None:
    """Remove the previous run's journey artefacts, so reports/e2e only shows this run's evidence."""
    folder = reports_dir / EVIDENCE_DIR
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.is_file() and item.name.endswith(ARTEFACT_SUFFIXES):
            item.unlink(missing_ok=True)


def relative(path: Path, reports_dir: Path) -> str:
    """A path as the reports refer to it: relative to the reports dir, with forward slashes."""
    return Path(os.path.relpath(path, reports_dir)).as_posix()


def _secret_forms() -> list[tuple[bytes, bytes]]:
    """Each registered secret in every encoding a trace may hold it in, with its replacement."""
    pairs: list[tuple[bytes, bytes]] = []
    for value in redactor.values:
        name = (redactor.placeholder(value) or "$SECRET")[1:]
        replacement = f"[REDACTED:{name}]"
        forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                 quote(value, safe=""), quote_plus(value), html.escape(value), html.escape(value, quote=False)}
        pairs += [(form.encode("utf-8"), replacement.encode()) for form in forms if form]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def blank_sensitive(node: Any) -> Any:
    """Blank sensitive header values and every cookie value in a parsed trace record."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "cookies" and isinstance(value, list):
                out[key] = [{**c, "value": "[REDACTED]"} if isinstance(c, dict) and "value" in c else c for c in value]
            else:
                out[key] = blank_sensitive(value)
        name = out.get("name")
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and isinstance(out.get("value"), str):
            out["value"] = "[REDACTED]"
        return out
    if isinstance(node, list):
        return [blank_sensitive(v) for v in node]
    return node


def scrub_bytes(data: bytes, forms: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """The data with every secret form replaced."""
    for form, replacement in forms if forms is not None else _secret_forms():
        if form in data:
            data = data.replace(form, replacement)
    return data


def _scrub_trace_member(name: str, data: bytes, forms: list[tuple[bytes, bytes]]) -> bytes:
    if name.endswith((".trace", ".network")):
        lines = []
        for line in data.split(b"\n"):
            try:
                record = json.loads(line)
            except ValueError:
                lines.append(line)
                continue
            lines.append(json.dumps(blank_sensitive(record), ensure_ascii=False).encode("utf-8"))
        data = b"\n".join(lines)
    return scrub_bytes(data, forms)


def scrub_trace(path: Path) -> None:
    """Rewrite a trace zip in place without secrets, sensitive headers or cookie values."""
    forms = _secret_forms()
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info, data in members:
                target.writestr(info, _scrub_trace_member(info.filename, data, forms),
                                compress_type=zipfile.ZIP_DEFLATED)
        tmp.chmod(path.stat().st_mode & 0o777)  # mkstemp makes it private: keep the original mode
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def scrub_tree(folder: Path) -> int:
    """Scrub every trace zip and text log under `folder` (also those of plain pytest-playwright tests)."""
    if not folder.is_dir():
        return 0
    count = 0
    forms = _secret_forms()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".zip" and zipfile.is_zipfile(path):
                scrub_trace(path)
                count += 1
            elif path.suffix in (".log", ".txt", ".json", ".md"):
                data = path.read_bytes()
                clean = scrub_bytes(data, forms)
                if clean != data:
                    path.write_bytes(clean)
                count += 1
        except (OSError, zipfile.BadZipFile):
            continue  # a half-written artefact of a killed run: nothing readable to leak
    return count


def write_console_log(path: Path, lines: list[str]) -> None:
    """The page's console, uncaught errors, dialogs and failed requests, redacted."""
    text = "\n".join(lines) + "\n" if lines else "(the page logged nothing)\n"
    path.write_text(redactor(text), encoding="utf-8")
