"""Structured Field Dictionaries (RFC 8941 section 3.2), enough to read `Cloudflare-Workers-Version-Overrides`.

Cloudflare reads the override header as a dictionary whose keys are Worker names and whose values are strings
naming a version (`my-worker="<version-id>"`). A field that does not parse is ignored as a whole (RFC 8941
section 4.2: a parse failure fails the field), and so is a member whose value is not a string.
"""

from __future__ import annotations

import base64
import re
from typing import Any

OVERRIDE_HEADER = "Cloudflare-Workers-Version-Overrides"
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~:/A-Za-z0-9]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class Token(str):
    """An sf-token (e.g. `v2` unquoted): distinct from an sf-string, which is what an override value must be."""


class ParseError(ValueError):
    """The field is not a valid structured dictionary."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def match(self, pattern: re.Pattern[str]) -> str:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise ParseError(f"unexpected {self.peek()!r} at {self.pos}")
        self.pos = found.end()
        return found.group(0)


def _string(r: _Reader) -> str:
    r.pos += 1  # the opening quote
    out: list[str] = []
    while True:
        ch = r.peek()
        if not ch:
            raise ParseError("unterminated string")
        r.pos += 1
        if ch == "\\":
            nxt = r.peek()
            if nxt not in ('"', "\\"):
                raise ParseError("bad escape in string")
            out.append(nxt)
            r.pos += 1
        elif ch == '"':
            return "".join(out)
        elif not " " <= ch <= "~":
            raise ParseError("non-printable character in string")
        else:
            out.append(ch)


def _bare_item(r: _Reader) -> Any:
    ch = r.peek()
    if ch == '"':
        return _string(r)
    if ch == "?":
        r.pos += 1
        value = r.peek()
        if value not in ("0", "1"):
            raise ParseError("bad boolean")
        r.pos += 1
        return value == "1"
    if ch == ":":
        raw = r.match(_BYTES)
        try:
            return base64.b64decode(raw[1:-1], validate=True)
        except ValueError:
            raise ParseError("bad byte sequence") from None
    if ch == "-" or ch.isdigit():
        number = r.match(_NUMBER)
        return float(number) if "." in number else int(number)
    if ch.isalpha() or ch == "*":
        return Token(r.match(_TOKEN))
    raise ParseError(f"unexpected {ch!r} at {r.pos}")


def _parameters(r: _Reader) -> dict[str, Any]:
    params: dict[str, Any] = {}
    while r.peek() == ";":
        r.pos += 1
        r.skip(" ")
        key = r.match(_KEY)
        value: Any = True
        if r.peek() == "=":
            r.pos += 1
            value = _bare_item(r)
        params[key] = value
    return params


def _item_or_inner_list(r: _Reader) -> Any:
    if r.peek() != "(":
        value = _bare_item(r)
        _parameters(r)
        return value
    r.pos += 1
    items: list[Any] = []
    while True:
        r.skip(" ")
        if r.peek() == ")":
            r.pos += 1
            _parameters(r)
            return items
        items.append(_bare_item(r))
        _parameters(r)
        if r.peek() not in (" ", ")"):
            raise ParseError("bad inner list")


def parse_dictionary(text: str) -> dict[str, Any]:
    """The members of a structured dictionary (key -> bare value; a key without `=` is True); ParseError if
    the text is not one."""
    r = _Reader(text)
    r.skip(" \t")
    out: dict[str, Any] = {}
    while r.peek():
        key = r.match(_KEY)
        if r.peek() == "=":
            r.pos += 1
            out[key] = _item_or_inner_list(r)
        else:
            out[key] = True
            _parameters(r)
        r.skip(" \t")
        if not r.peek():
            break
        if r.peek() != ",":
            raise ParseError(f"expected ',' at {r.pos}")
        r.pos += 1
        r.skip(" \t")
        if not r.peek():
            raise ParseError("trailing comma")
    return out


def override_for(worker: str, values: list[str]) -> str | None:
    """The version the override header(s) name for `worker`, or None (absent, unparsable, or not a string).

    Several header lines are one field joined by commas (RFC 9110 section 5.3)."""
    if not values:
        return None
    try:
        members = parse_dictionary(", ".join(values))
    except ParseError:
        return None
    value = members.get(worker)
    return value if isinstance(value, str) and not isinstance(value, Token) else None
