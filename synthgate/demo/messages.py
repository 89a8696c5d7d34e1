"""What the demo's handlers take and give: one drained request (`Req`) and one answer (`Reply`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive

from synthgate.demo.contract import MAX_BODY_BYTES
from synthgate.demo.releases import Release


@dataclass
class Reply:
    """What a handler answers; turned into ASGI messages in one place (routes.py), where faults apply."""

    status: int
    payload: Any = None  # JSON body, when `body` is None
    body: bytes | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


@dataclass
class Req:
    """One request, its body already drained, and the release that answers it."""

    method: str
    path: str
    headers: Headers
    body: bytes
    body_too_large: bool
    scheme: str
    release: Release
    params: dict[str, str] = field(default_factory=dict)

    @property
    def fault(self) -> str | None:
        """The fault of the release answering this request."""
        return self.release["fault"]

    def cookie(self, name: str) -> str | None:
        """One cookie's value, or None."""
        raw = self.headers.get("cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(Exception):
            jar.load(raw)
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None


Handler = Callable[[Req], Awaitable[Reply]]


def dumps(payload: Any) -> bytes:
    """A JSON body, compact and ASCII (a lone surrogate in stored input must not crash the encoder)."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """Drain the whole request body (always: leftover bytes would poison the keep-alive connection)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return (b"" if size > MAX_BODY_BYTES else b"".join(chunks)), size > MAX_BODY_BYTES
