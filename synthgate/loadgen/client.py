"""HTTP/1.1 on raw gevent sockets with the httptools (llhttp) parser: the fast User's client.

One `FastClient` per virtual user: one keep-alive connection, one cookie jar. Requests are prepared once
into bytes (only the Cookie line changes between sends), response bodies are counted, not kept, unless
asked for, and each sample goes straight into the process's HDR recorder: no per-request Locust event.
"""

from __future__ import annotations

import _socket
import errno
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import gevent
import httptools
from gevent import getcurrent
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.hub import get_hub

from synthgate.loadgen.hdr import PERF_TO_WALL, WRONG_VERSION, NameRecorder, Recorder

USER_AGENT = "synthgate-load/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_EXPECT = frozenset(range(200, 400))
_RECV = 65536
# a response larger than this (headers and body, as received) is a failed request: a hostile target cannot make
# a load user buffer or read without end (the profile's defaults.max_body_bytes sets it, see user.py)
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})

perf_counter = time.perf_counter


class TransportError(Exception):
    """A request that got no complete HTTP response."""

    def __init__(self, message: str, *, sent: bool, unreachable: bool = False, stale: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent  # the request reached a connection: the time spent is a latency sample
        self.unreachable = unreachable  # DNS failure or no TCP connection within the timeout
        self.stale = stale  # a reused keep-alive connection was closed before any response byte


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port of a base URL, plus the path prefix requests are sent under."""

    scheme: str
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Origin:
        """Origin of an http(s) URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def tls(self) -> bool:
        """True for https."""
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The Host header value (port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"


class CookieJar:
    """The cookies one virtual user holds (one origin: domain and path attributes are not needed)."""

    __slots__ = ("cookies", "header")

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.header = b""  # the ready "Cookie: ...\r\n" line, or b""

    def update(self, set_cookies: Iterable[bytes]) -> None:
        """Apply Set-Cookie header values."""
        for raw in set_cookies:
            first, _, attrs = raw.decode("latin-1").partition(";")
            name, eq, value = first.partition("=")
            name = name.strip()
            if not eq or not name:
                continue
            if _expired(attrs):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip()
        line = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.header = f"Cookie: {line}\r\n".encode("latin-1") if line else b""


def _expired(attrs: str) -> bool:
    for attr in attrs.split(";"):
        key, _, value = attr.strip().partition("=")
        key = key.lower()
        if key == "max-age":
            try:
                return int(value) <= 0
            except ValueError:
                continue
        if key == "expires":
            try:
                return parsedate_to_datetime(value).timestamp() < time.time()
            except (TypeError, ValueError):
                continue
    return False


@dataclass
class PreparedRequest:
    """A request turned into bytes once, bound to the recorder its samples go to."""

    method: str
    target: str  # path and query as sent
    name: str
    head: bytes  # request line and headers, without the Cookie line and the final CRLF
    tail: bytes  # CRLF and body
    expect: frozenset[int]
    rec: NameRecorder
    is_head: bool = False
    plain: bytes = field(init=False)  # head + tail: the bytes sent while the jar is empty
    witnessed: int = field(default=0, init=False)  # answers witnessed: bit 1 sent with cookies, bit 0 without

    def __post_init__(self) -> None:
        self.plain = self.head + self.tail


@dataclass
class FastResponse:
    """What `FastClient.request` returns: status (-1 on a transport error), headers and body if kept."""

    status: int
    error: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the request counted as a success."""
        return self.error is None


def build_request(
    origin: Origin, method: str, target: str, headers: dict[str, str], body: bytes | None
) -> tuple[bytes, bytes]:
    """Request bytes split around where the Cookie line goes."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
    names = {k.lower() for k in headers}
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in names:
        lines.append("Accept: */*")
    for key, value in headers.items():
        if any(c in key + value for c in "\r\n\0") or not key:
            raise ValueError(f"invalid header {key!r}: names and values may not contain CR, LF or NUL")
        if key.lower() in ("host", "content-length", "cookie"):
            continue
        lines.append(f"{key}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    return head, b"\r\n" + (body or b"")


class _Response:
    """One response being parsed: the httptools callback protocol for plain (lean) parsing.

    The lean protocol has no `on_header`: calling Python once per header costs more than the rest of the
    parse, so the few headers the client acts on (Set-Cookie, Location) are picked from the raw header
    block instead, only when a cheap scan finds them there.
    """

    __slots__ = ("parser", "done", "headers_done", "status", "keep_alive", "nbytes", "is_head", "keep",
                 "headers", "body", "location", "set_cookies", "scanned")  # fmt: skip

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.reset(False, False)

    def reset(self, is_head: bool, keep: bool) -> None:
        """Ready for the next response on the connection."""
        self.done = False
        self.headers_done = False
        self.status = 0
        self.keep_alive = False
        self.nbytes = 0
        self.is_head = is_head
        self.keep = keep
        self.location: bytes | None = None
        self.set_cookies: list[bytes] | None = None
        self.scanned = False
        if keep:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body: list[bytes] = []

    def on_headers_complete(self) -> None:
        """Status known; a HEAD response ends here (httptools cannot be told it has no body)."""
        self.headers_done = True
        parser = self.parser
        self.status = parser.get_status_code()
        self.keep_alive = parser.should_keep_alive()  # llhttp forgets it once the message completes
        if self.is_head:
            self.done = True

    def on_body(self, data: bytes) -> None:
        """Count body bytes (and keep them when asked)."""
        self.nbytes += len(data)
        if self.keep:
            self.body.append(data)

    def on_message_complete(self) -> None:
        """A full response; 1xx interim responses are skipped."""
        if 100 <= self.status < 200 and self.status != 101:
            self.headers_done = False
            self.scanned = False
            return
        self.done = True

    def scan(self, block: bytes) -> None:
        """Pick Set-Cookie and Location from a complete raw header block, if it has them."""
        low = block.lower()
        if b"\nset-cookie:" not in low and b"\nlocation:" not in low:
            return
        for line in block.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"set-cookie":
                if self.set_cookies is None:
                    self.set_cookies = []
                self.set_cookies.append(value.strip())
            elif name == b"location":
                self.location = value.strip()


class _FullResponse(_Response):
    """Parsing that keeps every header (for `FastClient.request`, which returns them)."""

    __slots__ = ()

    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep the header; act on cookies and redirects."""
        self.headers.append((name, value))
        low = name.lower()
        if low == b"set-cookie":
            if self.set_cookies is None:
                self.set_cookies = []
            self.set_cookies.append(value)
        elif low == b"location":
            self.location = value


class Connection:
    """One HTTP/1.1 keep-alive connection."""

    def __init__(self, origin: Origin, ssl_context: gssl.SSLContext | None, connect_timeout: float,
                 read_timeout: float) -> None:  # fmt: skip
        self.origin = origin
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.sock: gsocket.socket | None = None
        self.raw: _socket.socket | None = None  # plain HTTP: the raw non-blocking socket
        self.rio: Any = None  # its read and write watchers
        self.wio: Any = None
        self.waiter: Any = None  # the greenlet waiting for data, and until when (see _Watchdog)
        self.deadline = 0.0
        self.serial = 0  # roundtrips so far: a late timeout must not hit the next request
        self.served = 0  # responses read on this connection (a reused one may be stale)
        self.got = 0  # bytes received for the current response
        self.hbuf = b""  # a header block split over several reads
        self.lean = _Response()
        self.full = _FullResponse()
        self.last: _Response = self.lean  # the response of the latest roundtrip

    # --- transport ----------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the TCP (and TLS) connection."""
        host, port = self.origin.host, self.origin.port
        try:
            sock = gsocket.create_connection((host, port), timeout=self.connect_timeout)
        except gsocket.gaierror as exc:
            raise TransportError(f"DNS resolution failed for {host}: {exc.strerror}", sent=False,
                                 unreachable=True) from None  # fmt: skip
        except TimeoutError:
            raise TransportError(f"connect timeout after {self.connect_timeout:g} s", sent=False,
                                 unreachable=True) from None  # fmt: skip
        except ConnectionRefusedError:
            raise TransportError("connection refused", sent=False) from None
        except OSError as exc:
            raise TransportError(f"connect failed: {exc.strerror or exc}", sent=False,
                                 unreachable=exc.errno in _UNREACHABLE_ERRNOS) from None  # fmt: skip
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        self.served = 0
        # fresh parsers: a broken connection may have left one mid-message
        self.lean = _Response()
        self.full = _FullResponse()
        if self.ssl_context is not None:
            try:
                tls = self.ssl_context.wrap_socket(sock, server_hostname=host)
            except (gssl.SSLError, OSError) as exc:
                sock.close()
                raise TransportError(f"TLS handshake failed: {exc}", sent=False) from None
            tls.settimeout(self.read_timeout)
            self.sock = tls
            return
        # Plain HTTP goes through the raw non-blocking socket and two persistent libev watchers: gevent's
        # socket wrapper costs a Python frame per call and a timer per operation, more than the request.
        raw = _socket.socket(sock.family, _socket.SOCK_STREAM, 0, sock.detach())
        raw.setblocking(False)
        hub = get_hub()
        loop = hub.loop
        self.wait = hub.wait
        self.raw = raw
        self.rio = loop.io(raw.fileno(), 1)
        self.wio = loop.io(raw.fileno(), 2)
        self.sock = raw  # type: ignore[assignment]
        _watchdog().watch(self)

    def close(self) -> None:
        """Close the socket (the next request reconnects)."""
        if self.rio is not None:
            self.rio.close()
            self.wio.close()
            self.rio = self.wio = None
        self.raw = None
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def roundtrip(self, data: bytes, is_head: bool, keep: bool) -> _Response:
        """Send one request and read its response."""
        if self.sock is None:
            self.connect()
        resp = self.full if keep else self.lean
        resp.reset(is_head, keep)
        self.last = resp
        self.got = 0
        try:
            if self.raw is not None:
                self._exchange_raw(data, resp)
            else:
                self._exchange_tls(data, resp)
        except TransportError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise TransportError(f"read timeout after {self.read_timeout:g} s", sent=True) from None
        except httptools.HttpParserError as exc:
            self.close()
            raise TransportError(f"invalid HTTP response: {exc}", sent=True) from None
        except gssl.SSLError as exc:
            self.close()
            raise TransportError(f"TLS error: {exc}", sent=True) from None
        except OSError as exc:  # reset, broken pipe
            self.close()
            name = type(exc).__name__
            raise TransportError(f"{name}: {exc.strerror or exc}", sent=True,
                                 stale=self.served > 0 and not self.got) from None  # fmt: skip
        finally:
            self.waiter = None
        self.served += 1
        if not resp.keep_alive:  # Connection: close, HTTP/1.0, or a body delimited by the close
            self.close()
        elif is_head:  # the parser still expects the body a HEAD response announces but never sends
            resp.parser = httptools.HttpResponseParser(resp)
        return resp

    def _exchange_raw(self, data: bytes, resp: _Response) -> None:
        raw = self.raw
        assert raw is not None
        wait = self.wait
        # one deadline for the whole response, enforced by the watchdog (no timer per request)
        self.serial += 1
        self.deadline = perf_counter() + self.read_timeout
        self.waiter = getcurrent()
        view = None
        while True:  # send, waiting for buffer space only in the rare case the kernel wants it
            try:
                sent = raw.send(data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                break
            view = memoryview(data) if view is None else view
            data = view[sent:]  # type: ignore[assignment]
            wait(self.wio)
        recv = raw.recv
        feed = resp.parser.feed_data
        rio = self.rio
        while not resp.done:
            # wait before reading: the response is almost never there yet, and a failed read raises
            wait(rio)
            try:
                chunk = recv(_RECV)
            except BlockingIOError:
                continue
            if not chunk:
                self._eof(resp)
                return
            self.got += len(chunk)
            if self.got > MAX_RESPONSE_BYTES:
                raise TransportError(f"response over {MAX_RESPONSE_BYTES} bytes (defaults.max_body_bytes): "
                                     f"{self.got} bytes received", sent=True)
            if not resp.scanned and not resp.keep:
                self._scan(chunk, resp)
            feed(chunk)

    def _exchange_tls(self, data: bytes, resp: _Response) -> None:
        sock = self.sock
        assert sock is not None
        sock.sendall(data)
        feed = resp.parser.feed_data
        deadline = perf_counter() + self.read_timeout  # the whole response, not each read
        while not resp.done:
            if perf_counter() > deadline:
                raise TransportError(f"response not complete within {self.read_timeout:g} s: {self.got} bytes "
                                     "received", sent=True)
            chunk = sock.recv(_RECV)
            if not chunk:
                self._eof(resp)
                return
            self.got += len(chunk)
            if self.got > MAX_RESPONSE_BYTES:
                raise TransportError(f"response over {MAX_RESPONSE_BYTES} bytes (defaults.max_body_bytes): "
                                     f"{self.got} bytes received", sent=True)
            if not resp.scanned and not resp.keep:
                self._scan(chunk, resp)
            feed(chunk)

    def _scan(self, chunk: bytes, resp: _Response) -> None:
        block = self.hbuf + chunk if self.hbuf else chunk
        end = block.find(b"\r\n\r\n")
        if end < 0:
            self.hbuf = block[-65536:]  # headers continue in the next read
            return
        self.hbuf = b""
        resp.scanned = True
        resp.scan(block[:end])

    def _eof(self, resp: _Response) -> None:
        if resp.headers_done and not resp.keep_alive and not resp.is_head:
            resp.done = True  # a body delimited by the end of the connection
            return
        raise TransportError("connection closed by the server before a full response",
                             sent=True, stale=self.served > 0 and not self.got)  # fmt: skip


class _ReadTimeout(TimeoutError):
    """Thrown into a greenlet whose connection waited past its read deadline."""


class _Watchdog:
    """Read timeouts without a timer per request: one greenlet checks the deadlines of waiting reads."""

    TICK_S = 0.05

    def __init__(self) -> None:
        self.conns: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.greenlet: gevent.Greenlet | None = None

    def watch(self, conn: Connection) -> None:
        """Enforce `conn`'s read deadlines from now on."""
        self.conns.add(conn)
        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        loop = get_hub().loop
        while True:
            gevent.sleep(self.TICK_S)
            now = perf_counter()
            for conn in list(self.conns):
                if conn.waiter is not None and conn.deadline <= now:
                    # thrown from the hub's loop, as gevent.Timeout does, so the waiting greenlet resumes
                    # through the hub and control comes back here afterwards
                    loop.run_callback(self._expire, conn, conn.serial)

    @staticmethod
    def _expire(conn: Connection, serial: int) -> None:
        waiter = conn.waiter
        # still waiting in the same roundtrip (it may have finished since the check above)
        if waiter is not None and conn.serial == serial and not waiter.dead:
            conn.waiter = None
            waiter.throw(_ReadTimeout())


_WATCHDOG: _Watchdog | None = None


def _watchdog() -> _Watchdog:
    global _WATCHDOG
    if _WATCHDOG is None:
        _WATCHDOG = _Watchdog()
    return _WATCHDOG


def ssl_context(verify: bool = True) -> gssl.SSLContext:
    """A TLS client context (HTTP/1.1 only), verifying certificates unless told not to."""
    ctx = gssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = gssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class FastClient:
    """One virtual user's HTTP client: a keep-alive connection, a cookie jar, HDR recording."""

    def __init__(
        self,
        base_url: str,
        recorder: Recorder,
        *,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_redirects: int = 5,
        verify_tls: bool = True,
    ) -> None:
        self.origin = Origin.parse(base_url)
        self.recorder = recorder
        self.headers = dict(headers or {})
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_redirects = max_redirects
        self.verify_tls = verify_tls
        self._ssl = ssl_context(verify_tls) if self.origin.tls else None
        self.conn = Connection(self.origin, self._ssl, connect_timeout, read_timeout)
        self.jar = CookieJar()
        self.intended: float | None = None  # open model: latency of the next send is measured from here
        self.last: _Response | None = None  # the latest response (for `request`)
        self.last_error: str | None = None
        self._prepared: dict[object, PreparedRequest] = {}
        # pinned to a version (synthgate rollout): False for an answer another version served
        self.judge: Callable[[_Response], bool] | None = None
        # the first answer (headers kept) of each request, with and without cookies: (request, answer, cookies sent)
        self.witness: Callable[[PreparedRequest, _Response, bool], None] | None = None

    def prepare(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        expect_status: Iterable[int] | None = None,
    ) -> PreparedRequest:
        """A request ready to send any number of times (path relative to the base URL)."""
        method = method.upper()
        target = self.origin.prefix + (path if path.startswith("/") else "/" + path)
        head, tail = build_request(self.origin, method, target, {**self.headers, **(headers or {})}, body)
        return PreparedRequest(
            method=method,
            target=target,
            name=name or path,
            head=head,
            tail=tail,
            expect=frozenset(expect_status) if expect_status is not None else DEFAULT_EXPECT,
            rec=self.recorder.name(method, name or path),
            is_head=method == "HEAD",
        )

    def prepared(self, key: object, factory: Callable[[FastClient], PreparedRequest]) -> PreparedRequest:
        """The cached prepared form of `key` (built by `factory(self)` on first use)."""
        req = self._prepared.get(key)
        if req is None:
            req = self._prepared[key] = factory(self)
        return req

    def send(self, req: PreparedRequest, keep: bool = False) -> int:
        """Send a prepared request and record the sample; returns the status, -1 on a transport error."""
        intended = self.intended
        self.intended = None
        start = perf_counter() if intended is None else intended
        judge = self.judge
        # only a request's first answer (with cookies, and without) is witnessed: full parsing, once
        witness = self.witness
        bit = (2 if self.jar.header else 1) if witness is not None else 0
        first = bool(bit) and not req.witnessed & bit
        try:
            status, nbytes = self._exchange(req, keep or judge is not None or first)
        except TransportError as exc:
            end = perf_counter()
            us = int((end - start) * 1_000_000) if exc.sent else None
            req.rec.fail(us, exc.message, 0, end + PERF_TO_WALL, exc.unreachable)
            self.last_error: str | None = exc.message
            return -1
        end = perf_counter()
        us = int((end - start) * 1_000_000)
        if judge is not None and self.last is not None and not judge(self.last):
            # another version answered: no evidence about the pinned one, kept out of its figures
            self.recorder.name(req.method, WRONG_VERSION).ok(us, nbytes, end + PERF_TO_WALL)
            self.last_error = None
            return status
        if first and witness is not None and self.last is not None:
            req.witnessed |= bit
            witness(req, self.last, bit == 2)
        if status in req.expect:
            req.rec.ok(us, nbytes, end + PERF_TO_WALL)
            self.last_error = None
        else:
            self.last_error = f"HTTP {status}"
            req.rec.fail(us, self.last_error, nbytes, end + PERF_TO_WALL)
        return status

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        expect_status: Iterable[int] | None = None,
        read_body: bool = True,
    ) -> FastResponse:
        """A one-off request (for hand-written tasks): recorded like the rest, body kept by default."""
        data = body.encode() if isinstance(body, str) else body
        req = self.prepare(method, path, name=name, headers=headers, body=data, expect_status=expect_status)
        t0 = perf_counter()
        status = self.send(req, keep=read_body)
        last = self.last
        kept = read_body and status >= 0 and last is not None and last.keep
        return FastResponse(
            status=status,
            error=self.last_error,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in last.headers] if kept else [],
            body=b"".join(last.body) if kept else b"",
            elapsed_ms=(perf_counter() - t0) * 1000,
        )

    def get(self, path: str, **kw: object) -> FastResponse:
        """GET `path`."""
        return self.request("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> FastResponse:
        """POST `path`."""
        return self.request("POST", path, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _exchange(self, req: PreparedRequest, keep: bool) -> tuple[int, int]:
        conn = self.conn
        cookie = self.jar.header
        data = req.plain if not cookie else req.head + cookie + req.tail
        try:
            resp = conn.roundtrip(data, req.is_head, keep)
        except TransportError as exc:
            if not exc.stale:
                raise
            # the server closed an idle keep-alive connection before reading this request: resend once
            resp = conn.roundtrip(data, req.is_head, keep)
        self.last = resp
        if resp.set_cookies:
            self.jar.update(resp.set_cookies)
        status = resp.status
        if status in REDIRECT_STATUSES and resp.location is not None and self.max_redirects:
            return self._follow(req, resp, keep)
        return status, resp.nbytes

    def _follow(self, req: PreparedRequest, resp: _Response, keep: bool) -> tuple[int, int]:
        """Follow redirects (bounded); the whole chain is one sample under the original name."""
        method, url = req.method, f"{self.origin.scheme}://{self.origin.host_header}{req.target}"
        body = req.tail[2:] or None
        for _ in range(self.max_redirects):
            if resp.status not in REDIRECT_STATUSES or resp.location is None:
                return resp.status, resp.nbytes
            url = urljoin(url, resp.location.decode("latin-1"))
            if resp.status == 303 or (resp.status in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
            resp = self._send_to(url, method, body, keep)
            self.last = resp
        if resp.status in REDIRECT_STATUSES and resp.location is not None:
            raise TransportError(f"more than {self.max_redirects} redirects", sent=True)
        return resp.status, resp.nbytes

    def _send_to(self, url: str, method: str, body: bytes | None, keep: bool) -> _Response:
        origin = Origin.parse(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        same = (origin.scheme, origin.host, origin.port) == (self.origin.scheme, self.origin.host, self.origin.port)
        head, tail = build_request(origin, method, target, self.headers, body)
        if same:
            resp = self.conn.roundtrip(head + self.jar.header + tail, method == "HEAD", keep)
            if resp.set_cookies:
                self.jar.update(resp.set_cookies)
            return resp
        # another origin: a one-off connection, and our cookies stay with our origin
        ctx = (self._ssl or ssl_context(self.verify_tls)) if origin.tls else None
        conn = Connection(origin, ctx, self.connect_timeout, self.read_timeout)
        try:
            return conn.roundtrip(head + tail, method == "HEAD", keep)
        finally:
            conn.close()
