"""The last pass over everything a run wrote: no learned secret survives in any file of the reports folder.

Report writers redact as they write, but stage processes write files of their own (Allure results, logs,
Playwright traces) and may learn a secret (a cookie) after they wrote it somewhere. Once the run is over the
gate knows every secret every process learned, so it rewrites each file that still holds one.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from synthgate.e2e.evidence import scrub_trace
from synthgate.redact import forms, redactor

SKIP_SUFFIXES = (".png", ".jpg", ".jpeg", ".webm", ".webp", ".gif", ".ico", ".woff", ".woff2")
MAX_FILE_BYTES = 256 * 1024 * 1024


def secret_bytes() -> list[tuple[bytes, bytes]]:
    """(form, replacement) for every form of every registered secret, longest first."""
    pairs: list[tuple[bytes, bytes]] = []
    for value in redactor.values:
        name = (redactor.placeholder(value) or "$SECRET")[1:]
        pairs += [(f.encode("utf-8"), f"[REDACTED:{name}]".encode()) for f in forms(value)]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def scrub_reports(folder: Path) -> list[Path]:
    """Rewrite every file under `folder` that holds a secret; the files changed."""
    pairs = secret_bytes()
    if not pairs or not folder.is_dir():
        return []
    changed = []
    for path in sorted(folder.rglob("*")):
        try:
            if not path.is_file() or path.is_symlink() or path.suffix.lower() in SKIP_SUFFIXES:
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            if path.suffix == ".zip" and zipfile.is_zipfile(path):
                if _zip_holds(path, pairs):
                    scrub_trace(path)
                    changed.append(path)
                continue
            data = path.read_bytes()
            clean = data
            for form, replacement in pairs:
                if form in clean:
                    clean = clean.replace(form, replacement)
            if clean != data:
                path.write_bytes(clean)
                changed.append(path)
        except (OSError, zipfile.BadZipFile):
            continue  # half-written by a killed child: nothing we can read, nothing we can fix
    return changed


def _zip_holds(path: Path, pairs: list[tuple[bytes, bytes]]) -> bool:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if any(form in data for form, _ in pairs):
                return True
    return False
