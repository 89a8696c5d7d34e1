"""Bounded response reads: one wall-clock deadline for the whole exchange and a cap on the decoded body size.

httpx bounds each socket read, not the response: a target that trickles one byte a second, or sends a few KB
that inflate to gigabytes, would hold the gate for ever or exhaust its memory. Here the raw bytes are read with
`iter_raw` and decoded by our own incremental decoders, which never produce more than the cap; a watchdog shuts
the exchange's sockets down at the deadline, so even a read blocked inside httpx (headers that never end, a body
that never comes) returns at once.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import zlib
from typing import Any

import httpx

try:  # brotli is optional for httpx; decoding it bounded needs output_buffer_limit (brotli >= 1.1)
    import brotli

    brotli.Decompressor().process(b"", output_buffer_limit=1)
    HAVE_BROTLI = True
    DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, brotli.error)
except Exception:  # noqa: BLE001 - missing or too old (TypeError): do not ask for br
    HAVE_BROTLI = False
    DECODE_ERRORS = (zlib.error,)

# Only what we can decode bounded is asked for (httpx would add zstd when zstandard is installed).
ACCEPT_ENCODING = "gzip, deflate, br" if HAVE_BROTLI else "gzip, deflate"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


class BoundExceeded(Exception):
    """A response went over a bound (or cannot be decoded); the message says which bound and how much arrived."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class _TooLarge(Exception):
    pass


class _Zlib:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), never more than `room + 1` bytes out."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._d.decompress(data, room + 1)
        except zlib.error:
            if not (self._first and self._wbits == zlib.MAX_WBITS):
                raise
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent without the zlib header
            out = self._d.decompress(data, room + 1)
        self._first = False
        if len(out) > room:
            raise _TooLarge
        return out


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out = self._d.process(data, output_buffer_limit=room + 1)
        if len(out) > room or not self._d.can_accept_more_data():
            raise _TooLarge
        return out


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        if len(data) > room:
            raise _TooLarge
        return data


def _decoder(encoding: str) -> Any:
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS)
    if name == "br" and HAVE_BROTLI:
        return _Brotli()
    return _Identity()  # identity, or an encoding we never asked for: the raw bytes, bounded the same way


class BodyDecoder:
    """Decodes a Content-Encoding chain incrementally; raises _TooLarge past `limit` decoded bytes."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [e for e in content_encoding.split(",") if e.strip()]
        # applied in the reverse of the order they were listed (RFC 9110 8.4)
        self._chain = [_decoder(n) for n in reversed(names)] or [_Identity()]
        self.limit = limit
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        """Decode one raw chunk."""
        for dec in self._chain:
            data = dec.feed(data, self.limit - self.size)
        self.size += len(data)
        return data


class SocketWatchdog:
    """Shuts down every socket an exchange opened when its deadline passes (pass `trace` as httpx extension)."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore trace hook: remember the socket of each new connection (plain and TLS)."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sockets.append(sock)
                    if self.fired:
                        _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def cancel(self) -> None:
        """The exchange is over: no shutdown."""
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    # the base class method: SSLSocket.shutdown would also drop its SSL object under the reading thread
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def read_body(response: httpx.Response, started: float, deadline_s: float, max_bytes: int,
              watchdog: SocketWatchdog | None = None) -> bytes:
    """Read and decode the whole body within the deadline and the size cap; BoundExceeded otherwise.

    The decoded body is stored in the response, so `.content`, `.text` and `.json()` work as after `.read()`.
    """
    encoding = response.headers.get("content-encoding", "")
    decoder = BodyDecoder(encoding, max_bytes)
    parts: list[bytes] = []
    raw = 0
    try:
        for chunk in response.iter_raw():
            raw += len(chunk)
            parts.append(decoder.feed(chunk))
            if time.monotonic() - started > deadline_s:
                raise BoundExceeded(_late(response, deadline_s, raw, decoder.size), response.status_code)
    except _TooLarge:
        how = f" after decoding {encoding}" if encoding else ""
        raise BoundExceeded(
            f"response body over the max_body_bytes bound ({max_bytes} bytes): more than {max_bytes} bytes"
            f"{how}, from {raw} bytes received (HTTP {response.status_code})", response.status_code) from None
    except DECODE_ERRORS as exc:
        raise BoundExceeded(f"HTTP {response.status_code} body cannot be decoded as {encoding}: {exc}",
                            response.status_code) from None
    except (httpx.TransportError, OSError) as exc:
        if watchdog is not None and watchdog.fired or time.monotonic() - started > deadline_s:
            raise BoundExceeded(_late(response, deadline_s, raw, decoder.size), response.status_code) from None
        raise httpx.ReadError(f"the body was cut off after {raw} bytes: {exc}") from exc
    finally:
        response.close()
    body = b"".join(parts)
    response._content = body  # noqa: SLF001 - what Response.read() sets; the decoded body, bounded
    return body


def _late(response: httpx.Response, deadline_s: float, raw: int, decoded: int) -> str:
    got = f"{raw} bytes" + (f" ({decoded} decoded)" if decoded != raw else "")
    return (f"response not complete within the {deadline_s:g} s deadline (timeout_s): HTTP {response.status_code} "
            f"headers arrived, then {got} of body")


def headers_late_message(deadline_s: float) -> str:
    """The message for a deadline that passed before the response headers were complete."""
    return f"no complete response headers within the {deadline_s:g} s deadline (timeout_s)"



# Nesting depth of a JSON answer we parse: deeper documents are the target's evidence (a failed check), never a
# RecursionError in the parser or in whatever walks the parsed value later.
MAX_JSON_DEPTH = 256
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH (a ValueError: "not JSON we can read")."""


def json_depth_over(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (strings are skipped, so '[' in one is not)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:  # cannot be that deep: no scan
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def loads_json(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads bounded in nesting depth: JsonTooDeep (a ValueError) past `limit` levels, never RecursionError."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if json_depth_over(raw, limit):
        raise JsonTooDeep(f"the JSON body is nested more than {limit} levels deep")
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonTooDeep(f"the JSON body is nested too deeply to read (over {limit} levels)") from None


def response_json(response: httpx.Response) -> Any:
    """A response's JSON body, bounded in nesting depth like `loads_json` (a ValueError when it is not JSON)."""
    return loads_json(response.content)
