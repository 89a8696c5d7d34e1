"""HTTP/1.1 on raw gevent sockets with the httptools (llhttp) parser: the fast User's client.

One `FastClient` per virtual user: one keep-alive connection, one cookie jar. Requests are prepared once
into bytes (only the Cookie line changes between sends), response bodies are counted, not kept, unless
asked for, and each sample goes straight into the process's HDR recorder: no per-request Locust event.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httptools
from gevent import socket as gsocket
from gevent import ssl as gssl

from synthgate.loadgen.hdr import PERF_TO_WALL, NameRecorder, Recorder

USER_AGENT = "synthgate-load/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_EXPECT = frozenset(range(200, 400))
_RECV = 65536
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


class Connection:
    """One HTTP/1.1 connection; also the httptools parser's callback protocol."""

    def __init__(self, origin: Origin, ssl_context: gssl.SSLContext | None, connect_timeout: float,
                 read_timeout: float) -> None:  # fmt: skip
        self.origin = origin
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.sock: gsocket.socket | None = None
        self.served = 0  # responses read on this connection (a reused one may be stale)
        self.parser = httptools.HttpResponseParser(self)
        self._reset_response(False, False)

    def _reset_response(self, is_head: bool, keep: bool) -> None:
        self.done = False
        self.headers_done = False
        self.status = 0
        self.nbytes = 0
        self.got = 0
        self.has_length = False
        self.location: bytes | None = None
        self.set_cookies: list[bytes] | None = None
        self.is_head = is_head
        self.keep = keep
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    # --- httptools callbacks -------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep only what the client acts on (cookies, redirects, framing), unless asked for all."""
        c = name[0] | 0x20  # ASCII lower-case of the first letter: most headers are skipped on this
        if c == 115:  # s
            if name.lower() == b"set-cookie":
                if self.set_cookies is None:
                    self.set_cookies = []
                self.set_cookies.append(value)
        elif c == 108:  # l
            if name.lower() == b"location":
                self.location = value
        elif c == 99:  # c
            if name.lower() == b"content-length":
                self.has_length = True
        elif c == 116 and name.lower() == b"transfer-encoding":  # t
            self.has_length = True
        if self.keep:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Status known; a HEAD response ends here (httptools cannot be told it has no body)."""
        self.headers_done = True
        self.status = self.parser.get_status_code()
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
            self.headers = []
            return
        self.done = True

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
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
            except (gssl.SSLError, OSError) as exc:
                sock.close()
                raise TransportError(f"TLS handshake failed: {exc}", sent=False) from None
        sock.settimeout(self.read_timeout)
        self.sock = sock
        self.served = 0
        self.parser = httptools.HttpResponseParser(self)

    def close(self) -> None:
        """Close the socket (the next request reconnects)."""
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def roundtrip(self, data: bytes, is_head: bool, keep: bool) -> int:
        """Send one request and read its response; returns the status."""
        if self.sock is None:
            self.connect()
        sock = self.sock
        assert sock is not None
        reused = self.served > 0
        self._reset_response(is_head, keep)
        try:
            sock.sendall(data)
            recv = sock.recv
            feed = self.parser.feed_data
            while not self.done:
                chunk = recv(_RECV)
                if not chunk:
                    if self.headers_done and not self.has_length and not self.is_head:
                        break  # body delimited by the end of the connection
                    raise TransportError("connection closed by the server before a full response",
                                         sent=True, stale=reused and not self.got)  # fmt: skip
                self.got += len(chunk)
                feed(chunk)
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
                                 stale=reused and not self.got) from None  # fmt: skip
        self.served += 1
        if is_head or not self.parser.should_keep_alive():
            # a HEAD leaves the parser expecting a body; a close-delimited or Connection: close response
            # ends the connection
            if not self.parser.should_keep_alive():
                self.close()
            else:
                self.parser = httptools.HttpResponseParser(self)
        return self.status


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
        self._prepared: dict[object, PreparedRequest] = {}

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

    def prepared(self, key: object, factory: PreparedFactory) -> PreparedRequest:
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
        try:
            status = self._exchange(req, keep)
        except TransportError as exc:
            end = perf_counter()
            us = int((end - start) * 1_000_000) if exc.sent else None
            req.rec.fail(us, exc.message, 0, end + PERF_TO_WALL, exc.unreachable)
            self.last_error: str | None = exc.message
            return -1
        end = perf_counter()
        us = int((end - start) * 1_000_000)
        if status in req.expect:
            req.rec.ok(us, self.conn.nbytes, end + PERF_TO_WALL)
            self.last_error = None
        else:
            self.last_error = f"HTTP {status}"
            req.rec.fail(us, self.last_error, self.conn.nbytes, end + PERF_TO_WALL)
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
        conn = self.conn
        return FastResponse(
            status=status,
            error=self.last_error,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in conn.headers] if read_body else [],
            body=b"".join(conn.body) if read_body and status >= 0 else b"",
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

    def _exchange(self, req: PreparedRequest, keep: bool) -> int:
        conn = self.conn
        cookie = self.jar.header
        data = req.plain if not cookie else req.head + cookie + req.tail
        try:
            status = conn.roundtrip(data, req.is_head, keep)
        except TransportError as exc:
            if not exc.stale:
                raise
            # the server closed an idle keep-alive connection before reading this request: resend once
            status = conn.roundtrip(data, req.is_head, keep)
        if conn.set_cookies:
            self.jar.update(conn.set_cookies)
        if status in REDIRECT_STATUSES and conn.location is not None and self.max_redirects:
            status = self._follow(req, status, keep)
        return status

    def _follow(self, req: PreparedRequest, status: int, keep: bool) -> int:
        """Follow redirects (bounded); the whole chain is one sample under the original name."""
        method, url = req.method, f"{self.origin.scheme}://{self.origin.host_header}{req.target}"
        body = req.tail[2:] or None
        for _ in range(self.max_redirects):
            location = self.conn.location if status in REDIRECT_STATUSES else None
            if location is None:
                return status
            url = urljoin(url, location.decode("latin-1"))
            if status == 303 or (status in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
            status = self._send_to(url, method, body, keep)
        if status in REDIRECT_STATUSES and self.conn.location is not None:
            raise TransportError(f"more than {self.max_redirects} redirects", sent=True)
        return status

    def _send_to(self, url: str, method: str, body: bytes | None, keep: bool) -> int:
        origin = Origin.parse(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        same = (origin.scheme, origin.host, origin.port) == (self.origin.scheme, self.origin.host, self.origin.port)
        head, tail = build_request(origin, method, target, self.headers, body)
        if same:
            conn = self.conn
            data = head + self.jar.header + tail
        else:  # another origin: a one-off connection, and our cookies stay with our origin
            ctx = self._ssl if origin.tls and self._ssl else (ssl_context(self.verify_tls) if origin.tls else None)
            conn = Connection(origin, ctx, self.connect_timeout, self.read_timeout)
            data = head + tail
        try:
            status = conn.roundtrip(data, method == "HEAD", keep)
        finally:
            if not same:
                conn.close()
        if same and conn.set_cookies:
            self.jar.update(conn.set_cookies)
        if not same:  # let the caller see the other origin's Location and body counters
            self.conn.location = conn.location
            self.conn.nbytes = conn.nbytes
            self.conn.headers, self.conn.body = conn.headers, conn.body
        return status


class PreparedFactory:
    """Typing helper: something that prepares a request for a client."""

    def __call__(self, client: FastClient) -> PreparedRequest:  # pragma: no cover - protocol only
        raise NotImplementedError
