"""Hostile HTTP servers on loopback for the self-tests: raw sockets in threads, one behaviour each."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

Handler = Callable[[socket.socket], None]


def _head(status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_request(conn: socket.socket) -> bytes:
    """The request's head (b"" when the client left before sending one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def _sleep_until_closed(conn: socket.socket, seconds: float) -> None:
    end = time.monotonic() + seconds
    conn.settimeout(0.2)
    while time.monotonic() < end:
        try:
            if conn.recv(1) == b"":
                return
        except TimeoutError:
            continue
        except OSError:
            return


def hang_after_headers(conn: socket.socket) -> None:
    """Headers promise a body that never comes."""
    _read_request(conn)
    conn.sendall(_head(headers={"Content-Type": "application/json", "Content-Length": "1000"}))
    _sleep_until_closed(conn, 120)


def trickle(conn: socket.socket) -> None:
    """One byte of body every half second."""
    _read_request(conn)
    conn.sendall(_head(headers={"Content-Type": "text/plain", "Content-Length": "100000"}))
    for _ in range(100000):
        conn.sendall(b"x")
        time.sleep(0.5)


def _bomb_gzip() -> bytes:
    """1 GiB of zeros gzipped: one deflated MiB, flushed to a byte boundary, repeated 1,024 times.

    Compressing the whole GiB took 5 s of CPU; past the first MiB each MiB deflates to the same bytes.
    """
    block = b"\0" * (1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the gzip header and trailer are written here
    first = z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)
    steady = z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + first + steady * 1023 + z.flush() + struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)


def _bomb_brotli() -> bytes:
    import brotli

    c = brotli.Compressor(quality=1)
    block = b"\0" * (1 << 20)
    return b"".join(c.process(block) for _ in range(1024)) + c.finish()  # 1 GiB decoded


@functools.cache  # one body per encoding and process, however many handlers name it
def _bomb(encoding: str) -> bytes:
    return _bomb_gzip() if encoding == "gzip" else _bomb_brotli()


def bomb(encoding: str) -> Handler:
    """A body of about 1 MB that decodes to 1 GiB."""
    # built now (0.5 s of CPU for both), not on the first request: that request is bounded by a 2 s timeout
    body = _bomb(encoding)

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(_head(headers={"Content-Type": "application/json", "Content-Encoding": encoding,
                                    "Content-Length": str(len(body))}) + body)

    return handle


def endless_chunked(conn: socket.socket) -> None:
    """A chunked body that never ends, as fast as the client reads."""
    _read_request(conn)
    conn.sendall(_head(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}))
    chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
    while True:
        conn.sendall(chunk)


def huge_header(conn: socket.socket) -> None:
    """A 1 MB response header."""
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\n{}")


def body(payload: bytes, content_type: str = "application/json") -> Handler:
    """A fixed 200 answer (invalid UTF-8, invalid JSON...)."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(_head(headers={"Content-Type": content_type, "Content-Length": str(len(payload)),
                                    "Connection": "close"}) + payload)

    return handle


def redirect_loop(conn: socket.socket) -> None:
    """Every path redirects to another one, for ever."""
    _read_request(conn)
    conn.sendall(_head("302 Found", {"Location": f"/redirect-loop?n={time.monotonic_ns()}", "Content-Length": "0",
                                     "Connection": "close"}))


def routes(table: dict[str, Handler], default: Handler) -> Handler:
    """Dispatch on the request path (the request is read here; handlers must not read it again)."""

    def handle(conn: socket.socket) -> None:
        data = _read_request(conn)
        if not data:
            return
        path = data.split(b" ", 2)[1].decode("latin-1")
        handler = table.get(path.split("?")[0], default)
        handler(_Preread(conn))  # type: ignore[arg-type]

    return handle


class _Preread:
    """A connection whose request was read already: recv of the request returns a bare end of headers."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._pending = b"\r\n\r\n"

    def recv(self, n: int) -> bytes:
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        return self._conn.recv(n)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def never_reads(conn: socket.socket) -> None:
    """Accepts the connection, never reads the request, never answers."""
    _sleep_until_closed(conn, 120)


def server_error(conn: socket.socket) -> None:
    """A plain 500 for every request."""
    _read_request(conn)
    conn.sendall(_head("500 Internal Server Error", {"Content-Length": "0", "Connection": "close"}))


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA certificate for `name` (not 127.0.0.1) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.contextmanager
def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve `handler` (one thread per connection) on a free loopback port; yields the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()

    def one(conn: socket.socket) -> None:
        try:
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            handler(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
