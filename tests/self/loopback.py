"""One scripted HTTP server for a self-test: a handler class served on a free loopback port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The handler's base URL (http://127.0.0.1:PORT) while the block runs; the server is closed after it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class StatusHandler(BaseHTTPRequestHandler):
    """Answers every GET with "ok": 503 under /down, 401 at /private, else 200."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status = 503 if self.path.startswith("/down") else 401 if self.path == "/private" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        return
