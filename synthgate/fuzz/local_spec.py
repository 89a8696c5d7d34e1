"""`fuzz.openapi` as a file in the team's repository (many apps keep their spec there and do not serve it).

In a profile: `openapi: openapi.yaml` or `./spec/api.json` (relative to the profile's folder) or a `file://` URL;
`/openapi.json` stays a path on the target. The loader turns a relative file into a `file://` URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

MAX_BYTES = 20 * 1024 * 1024


def is_local(value: str) -> bool:
    """A file reference rather than a target path or an http(s) URL."""
    return value.startswith("file://") or not value.startswith(("/", "http://", "https://"))


def resolve(value: str, profile_dir: Path) -> str:
    """A `file://` URL for a local reference, relative ones resolved against the profile's folder."""
    if value.startswith("file://"):
        return value
    return (profile_dir / value).resolve().as_uri()


def read(url: str) -> tuple[dict[str, Any] | None, str | None]:
    """(document, error) of a `file://` OpenAPI document, JSON or YAML, bounded in size."""
    path = Path(unquote(urlsplit(url).path))
    try:
        if path.stat().st_size > MAX_BYTES:
            return None, f"the OpenAPI file {path} is larger than {MAX_BYTES // 1024 // 1024} MB"
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"the OpenAPI file {path} cannot be read: {exc}"
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        return None, f"the OpenAPI file {path} is not valid JSON/YAML: {str(exc)[:200]}"
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        return None, f"the OpenAPI file {path} has no 'paths'"
    return document, None
