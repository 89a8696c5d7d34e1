"""curl commands that reproduce a fuzzed request byte for byte (secrets written as $ENV references)."""

from __future__ import annotations

from synthgate.http import Exchange, to_curl

ARGV_LIMIT = 100_000  # one argv string may not exceed 128 KiB on Linux; larger bodies go through stdin
_HEREDOC = "SYNTHGATE_BODY"


def _printable(body: bytes) -> bool:
    """Whether the body survives as a shell argument: UTF-8 without NUL or other control characters."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in text)


def _printf_octal(body: bytes) -> str:
    """A printf format writing exactly `body` (every byte that is not plain ASCII as an octal escape)."""
    plain = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 {}[]:,.-_@/+=!?#()<>*&^~|;$\"`")
    return "".join(chr(b) if b in plain else f"\\{b:03o}" for b in body)


def curl_for(ex: Exchange, jar: str | None = None) -> str:
    """A curl command sending exactly this request; with `jar`, cookies come from and go to that file."""
    headers = {k: v for k, v in ex.headers.items() if k.lower() != "cookie"}  # the jar carries the session
    body = ex.body
    suffix = ""
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        suffix += " -H 'Content-Type:'"  # curl would add a form content type of its own
    if jar:
        suffix += f' -b "{jar}" -c "{jar}"'
    if body is None or (_printable(body) and len(body) <= ARGV_LIMIT):
        return to_curl(ex.method, ex.url, headers, body) + suffix
    command = to_curl(ex.method, ex.url, headers, None) + suffix + " --data-binary @-"
    escaped = _printf_octal(body)
    if len(escaped) <= ARGV_LIMIT:
        return f"printf '{escaped}' | {command}"
    text = body.decode("utf-8", "replace")
    # a here-document adds one trailing newline, which JSON allows as whitespace
    return f"{command} <<'{_HEREDOC}'\n{text}\n{_HEREDOC}"


def curl_script(steps: list[tuple[int, Exchange]]) -> str:
    """Shell lines replaying a stateful sequence; each session keeps its cookies in its own jar."""
    lines: list[str] = []
    seen: set[int] = set()
    for session, ex in steps:
        if session not in seen:
            seen.add(session)
            lines.append(f"jar{session}=$(mktemp)  # session {session}: a fresh cookie jar")
        lines.append(curl_for(ex, jar=f"$jar{session}"))
        lines.append("echo")  # each answer on lines of its own
    return "\n".join(lines)
