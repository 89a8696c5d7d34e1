"""`synthgate init`: the repository layout a team's gate lives in, written once, never over their files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from synthgate.fuzz import local_spec
from synthgate.profile.schema import schema_text
from synthgate.project import DEFAULT_PROFILE_FILE
from synthgate.project.draft import draft_profile
from synthgate.project.templates import CONFTEST, EXAMPLES, WORKFLOW

SCHEMA_FILE = ".synthgate/profile.schema.json"


class ScaffoldError(Exception):
    """init cannot write the layout; the message is meant for the user as is."""


def scaffold(directory: Path, from_url: str | None = None, openapi: str | None = None,
             force: bool = False, progress: Callable[[str], None] | None = None) -> Iterator[str]:
    """Write the layout into `directory`, yielding one progress line per file (`progress` hears the trial)."""
    if from_url is not None and not from_url.startswith(("http://", "https://")):
        raise ScaffoldError(f"--from: expected an http:// or https:// URL, got {from_url!r}")
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", directory.resolve().name).strip("-.") or "myapp"
    if openapi is not None:
        openapi = _openapi_ref(openapi, directory)
    examples = dict(EXAMPLES)
    profile_text, notes, broken = _profile(name, from_url, openapi, examples, progress)
    for rel, why in broken.items():  # an example that fails on the deployment today is written skipped
        examples[rel] = skipped(examples[rel], why)
    files = {
        DEFAULT_PROFILE_FILE: profile_text,
        SCHEMA_FILE: schema_text(),
        "conftest.py": CONFTEST,
        **examples,
        ".github/workflows/synthgate.yml": WORKFLOW,
    }
    for rel, text in files.items():
        path = directory / rel
        if path.exists() and not force and rel != SCHEMA_FILE:  # the schema follows the installed version
            yield f"kept {path} (exists; --force overwrites)"
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        yield f"wrote {path}"
    yield from _gitignore(directory / ".gitignore")
    for note in notes:
        yield f"  {note}"
    yield f"next: synthgate validate {directory / DEFAULT_PROFILE_FILE}; then synthgate run --base-url URL"


def _openapi_ref(value: str, directory: Path) -> str:
    """--openapi as the profile says it: a URL or target path as given, a file relative to the profile's folder."""
    spec = Path(value).resolve()
    if value.startswith(("http://", "https://", "file://")) or (not spec.is_file() and not local_spec.is_local(value)):
        return value  # a URL, or a path on the target such as /openapi.json
    if not spec.is_file():
        raise ScaffoldError(f"--openapi: {value}: no such file (expected an OpenAPI file, a URL, or /path on the "
                            "target)")
    try:
        return spec.relative_to(directory.resolve()).as_posix()
    except ValueError:
        return spec.as_uri()


def _gitignore(path: Path) -> Iterator[str]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if any(line.strip().strip("/") == "reports" for line in lines):
        return
    path.write_text("\n".join([*lines, "# synthgate's reports", "reports/", ""]), encoding="utf-8")
    yield f"{'updated' if lines else 'wrote'} {path} (reports/)"


def skipped(text: str, why: str) -> str:
    """An example test module marked skipped, saying why (it failed on the deployment when drafted)."""
    reason = f"failed on the deployment when drafted: {why}"
    head, sep, body = text.partition('"""\n\n')  # after the module docstring
    mark = f"import pytest\n\npytestmark = pytest.mark.skip(reason={reason!r})  # remove once it passes\n\n"
    return head + sep + mark + body if sep else mark + text


def _profile(name: str, from_url: str | None, openapi: str | None, examples: dict[str, str],
             progress: Callable[[str], None] | None) -> tuple[str, list[str], dict[str, str]]:
    """The profile text (with the schema line), notes about what was found, and the example tests that failed."""
    broken: dict[str, str] = {}
    if from_url is None:
        data: dict[str, Any] = {
            "name": name,
            "base_url": "https://myapp.example.com",
            "headers": {"X-Synthetic-Check": "synthgate"},
            "health": {"path": "/health", "expect": {"status": 200}},
            "pages": [{"id": "landing", "path": "/", "expect": {"status": 200}}],
        }
        notes = ["synthgate.yaml is a template: set base_url and health.path, or run init --from URL"]
    else:
        data, notes, broken = draft_profile(name, from_url, examples, progress)
    if openapi:
        data.setdefault("fuzz", {})["openapi"] = openapi
        data["fuzz"].setdefault("max_time_s", 30)
        notes.append(f"fuzz: from the OpenAPI document {openapi} (GET and HEAD only until fuzz.allow_writes)")
    head = [f"# yaml-language-server: $schema={SCHEMA_FILE}",
            f"# synthgate profile for {name}: `synthgate validate` checks it; `synthgate schema` documents each field.",
            "# base_url is overridden by --base-url, then SYNTHGATE_BASE_URL, then API_URL."]
    if from_url:
        head.append(f"# Drafted by `synthgate init --from {from_url}`: every stage below was run against it and "
                    "passed;")
        head.append("# what failed there was left out or relaxed, as these notes say (tighten each once fixed):")
        head += [f"#   {n}" for n in notes]
    body = annotate(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), notes)
    return "\n".join(head) + "\n" + body, notes, broken


def annotate(body: str, notes: list[str]) -> str:
    """A comment beside each hygiene item relaxed to `warn` when drafted, so it is not mistaken for a choice."""
    relaxed = {m.group(1) for n in notes if (m := re.match(r"hygiene\.(\w+): warn, not fail", n))}
    out, section = [], ""
    for line in body.splitlines():
        if line and not line.startswith(" "):
            section = line.split(":")[0]
        item = re.match(r"  (\w+): warn$", line)
        if section == "hygiene" and item and item.group(1) in relaxed:
            line += "  # the app lacks it today (see the notes above): set fail once it meets it"
        out.append(line)
    return "\n".join(out) + "\n"
