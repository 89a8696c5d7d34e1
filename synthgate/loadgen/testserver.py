"""A loopback HTTP/1.1 server with a known latency distribution, to check the load generator's numbers.

    python -m synthgate.loadgen.testserver --port 0 --delay-ms 20 --slow-every 10 --slow-ms 200

Every request to `/` waits `--delay-ms`; every `--slow-every`-th request (deterministic, so the true
percentiles are known exactly) waits `--slow-ms` instead. `--stall-at-s T --stall-s D` holds every
response that would leave between T and T+D seconds after the first request until T+D: one server stall.
`--log-latencies FILE` writes the service time of each `/` request on exit (the truth to compare with).
Other paths exercise the client: `/chunked`, `/close` (Connection: close, no length), `/redirect`,
`/cookie` (sets one), `/echo-cookie`, `/status/NNN`, `/big` (256 KiB chunked).
`--tls-cert/--tls-key` serve HTTPS. Prints `READY <port>` once listening. Loopback self-tests and
calibration only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httptools


class _Config:
    delay_s = 0.0
    slow_every = 0
    slow_s = 0.0
    stall_at_s = -1.0
    stall_s = 0.0


class _State:
    count = 0
    first: float | None = None
    log: list[float] = []  # service time of every "/" request (ms), when --log-latencies is given
    logging = False


class _Protocol(asyncio.Protocol):
    def __init__(self, cfg: _Config, state: _State) -> None:
        self.cfg = cfg
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.queue: asyncio.Queue[tuple[bytes, bytes, dict[bytes, bytes], bool, float]] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        arrived = asyncio.get_running_loop().time()
        self.queue.put_nowait((method, self.url, self.headers, self.parser.should_keep_alive(), arrived))

    async def _serve(self) -> None:  # responses in request order, one connection at a time
        loop = asyncio.get_running_loop()
        while True:
            method, url, headers, keep, arrived = await self.queue.get()
            path = url.split(b"?", 1)[0]
            resp, close = await self._respond(loop, method, path, headers)
            assert self.transport is not None
            if self.transport.is_closing():
                return
            self.transport.write(resp)
            if self.state.logging and path == b"/":
                self.state.log.append((loop.time() - arrived) * 1000.0)
            if close or not keep:
                self.transport.close()
                return

    async def _respond(
        self, loop: asyncio.AbstractEventLoop, method: bytes, path: bytes, headers: dict[bytes, bytes]
    ) -> tuple[bytes, bool]:
        cfg, st = self.cfg, self.state
        if path == b"/":
            now = loop.time()
            if st.first is None:
                st.first = now
            st.count += 1
            slow = cfg.slow_every and st.count % cfg.slow_every == 0
            done_at = now + (cfg.slow_s if slow else cfg.delay_s)
            if cfg.stall_at_s >= 0:
                start, end = st.first + cfg.stall_at_s, st.first + cfg.stall_at_s + cfg.stall_s
                if start <= done_at < end:
                    done_at = end
            await asyncio.sleep(max(0.0, done_at - loop.time()))
            return _simple(200, b"ok\n", head=method == b"HEAD"), False
        if path == b"/chunked":
            chunks = [b"hello ", b"chunked ", b"world\n"]
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" + body, False
        if path == b"/big":
            chunk = b"x" * 16384
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(16)) + b"0\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, False
        if path == b"/close":
            return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nclosed body\n", True
        if path == b"/redirect":
            return b"HTTP/1.1 302 Found\r\nLocation: /chunked\r\nContent-Length: 0\r\n\r\n", False
        if path == b"/cookie":
            return _simple(200, b"set\n", extra=b"Set-Cookie: sg_session=abc123; Path=/; HttpOnly\r\n"), False
        if path == b"/echo-cookie":
            return _simple(200, headers.get(b"cookie", b"")), False
        if path.startswith(b"/status/"):
            return _simple(int(path.rsplit(b"/", 1)[1]), b"status\n"), False
        return _simple(404, b"not found\n"), False


def _simple(status: int, body: bytes, extra: bytes = b"", head: bool = False) -> bytes:
    reason = {200: b"OK", 404: b"Not Found", 500: b"Internal Server Error"}.get(status, b"Status")
    return b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status,
        reason,
        len(body),
        extra,
        b"" if head else body,
    )


async def _main(args: argparse.Namespace) -> None:
    cfg = _Config()
    cfg.delay_s = args.delay_ms / 1000.0
    cfg.slow_every = args.slow_every
    cfg.slow_s = args.slow_ms / 1000.0
    cfg.stall_at_s = args.stall_at_s
    cfg.stall_s = args.stall_s
    state = _State()
    state.logging = bool(args.log_latencies)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    server = await loop.create_server(lambda: _Protocol(cfg, state), args.host, args.port, backlog=1024, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    async with server:
        await stop
    if args.log_latencies:
        # what the server actually did: the truth the generator's percentiles are checked against
        Path(args.log_latencies).write_text("\n".join(f"{v:.3f}" for v in state.log), encoding="utf-8")


class CalibrationServer:
    """This server in a child process (context manager); `.url` once started."""

    def __init__(self, *args: str, host: str = "127.0.0.1") -> None:
        self.args = list(args)
        self.host = host
        self.url = ""
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> CalibrationServer:
        cmd = [sys.executable, "-m", "synthgate.loadgen.testserver", "--host", self.host, "--port", "0", *self.args]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # blocks until READY (or the child died)
        if not line.startswith("READY "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"calibration server did not start: {line!r}")
        self.port = int(line.split()[1])
        scheme = "https" if "--tls-cert" in self.args else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve until killed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--slow-every", type=int, default=0)
    ap.add_argument("--slow-ms", type=float, default=0.0)
    ap.add_argument("--stall-at-s", type=float, default=-1.0)
    ap.add_argument("--stall-s", type=float, default=0.0)
    ap.add_argument("--log-latencies", default="", help="on SIGTERM, write each / service time (ms) here")
    ap.add_argument("--tls-cert", default="", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", default="", help="and this key (PEM)")
    args = ap.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        ap.error("the test server listens on loopback only")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
