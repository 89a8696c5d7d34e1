"""Security baseline: no stack traces, internal paths or secrets in bodies; CORS not open with credentials."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from synthgate.bounded import loads_json
from synthgate.http import Exchange
from synthgate.profile.model import Profile
from synthgate.redact import redactor

STACK_TRACE_PATTERNS = [
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"\n\s+at [\w$.<>]+ \(?[^\s()]+:\d+:\d+\)?"),  # JavaScript / Node stack frames
    re.compile(r"\bat [\w$.]+\([\w]+\.java:\d+\)"),  # Java
    re.compile(r"(?i)\b(?:node_modules|site-packages|/usr/src/app|/srv/app|/home/\w+)/[\w./-]+"),
    re.compile(r"(?i)\bpanic: .*goroutine \d+"),
    re.compile(r"(?i)\bSQLITE_ERROR\b|\bsqlite3\.OperationalError\b|D1_ERROR"),
]


_TAG = re.compile(r"<[^>]{0,2000}>")
_MAX_DECODED_STRINGS = 10_000  # a huge JSON document is still scanned, up to this many strings


def is_json_media_type(content_type: str) -> bool:
    """True for application/json and every +json type (application/problem+json, application/vnd.api+json)."""
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _strings(data: Any) -> Iterator[str]:
    """Every string of decoded JSON, keys included, depth-first (iterative: deep nesting cannot recurse)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, value in item.items():
                yield str(key)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def decoded_texts(text: str, content_type: str = "") -> list[str]:
    """The texts a leak scan must look at: the raw body, every string of a JSON body, an HTML page's text.

    JSON escapes newlines and slashes (a stack trace becomes one line with `\\n`), HTML escapes quotes and
    angle brackets: patterns match what a reader would see, so they run on the decoded content too.
    """
    texts = [text]
    stripped = text.lstrip()
    if is_json_media_type(content_type) or stripped[:1] in ("{", "["):
        try:
            data = loads_json(text)
        except ValueError:
            data = None
        if data is not None:
            strings = []
            for n, value in enumerate(_strings(data)):
                if n >= _MAX_DECODED_STRINGS:
                    break
                strings.append(value)
            texts += strings
    if "html" in content_type.lower() or stripped[:1] == "<":
        texts.append(html.unescape(_TAG.sub(" ", text)))
    return texts


def body_leaks(text: str, content_type: str = "") -> list[str]:
    """What a response body leaks (stack traces, internal paths, registered secret values), decoded content too."""
    found = []
    texts = decoded_texts(text, content_type)
    for pattern in STACK_TRACE_PATTERNS:
        m = next((m for t in texts if (m := pattern.search(t))), None)
        if m:
            snippet = m.group(0).strip().replace("\n", " ")[:80]
            found.append(f"response body leaks a stack trace or internal path: {snippet!r}")
            break
    if any(value in t for t in texts for value in redactor.given_values):
        found.append("response body contains a secret value")
    return found


def cors_problems(ex: Exchange, probe_origin: str, allowed_origins: list[str]) -> list[str]:
    """CORS must not reflect an arbitrary origin together with credentials, nor allow '*' with credentials."""
    r = ex.response
    if r is None:
        return []
    acao = r.headers.get("access-control-allow-origin")
    creds = r.headers.get("access-control-allow-credentials", "").lower() == "true"
    problems = []
    # Reflecting any origin without credentials is as open as '*', which public APIs may choose.
    if acao == probe_origin and probe_origin not in allowed_origins and creds:
        problems.append(f"CORS reflects an arbitrary origin ({probe_origin}) with credentials")
    if acao == "*" and creds:
        problems.append("CORS allows any origin ('*') with credentials")
    return problems


def cors_paths(profile: Profile) -> list[str]:
    """Paths probed for CORS: declared ones, else the health path and the routes."""
    if profile.security.cors_paths:
        return list(profile.security.cors_paths)
    paths = [profile.health.path] if profile.health else []
    paths += [r.path for r in profile.routes if r.path not in paths]
    return paths
