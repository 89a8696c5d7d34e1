"""Security baseline: no stack traces, internal paths or secrets in bodies; CORS not open with credentials."""

from __future__ import annotations

import re

from synthgate.http import Exchange
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


def body_leaks(text: str) -> list[str]:
    """What a response body leaks: stack traces, internal paths, registered secret values."""
    found = []
    for pattern in STACK_TRACE_PATTERNS:
        m = pattern.search(text)
        if m:
            snippet = m.group(0).strip().replace("\n", " ")[:80]
            found.append(f"response body leaks a stack trace or internal path: {snippet!r}")
            break
    if any(value in text for value in redactor.values):
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
