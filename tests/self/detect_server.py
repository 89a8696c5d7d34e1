"""A scriptable loopback HTTP server for the detect self-tests: per-path answers, dropped connections, a login."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# an answer: (status, JSON body) or None to drop the connection without a response (a transport failure)
Answer = tuple[int, Any] | None


class Script:
    """What the server answers: per path, a list of answers used in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer] | Callable[[BaseHTTPRequestHandler, bytes], Answer]] = {}
        self.hits: dict[str, int] = {}
        self.logins = 0
        self.tokens: set[str] = set()
        self.lock = threading.Lock()

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> Answer:
        path = handler.path.split("?")[0]
        with self.lock:
            n = self.hits.get(path, 0)
            self.hits[path] = n + 1
        script = self.answers.get(path)
        if script is None:
            return 404, {"error": "not_found"}
        if callable(script):
            return script(handler, body)
        return script[min(n, len(script) - 1)]

    def issue_token(self) -> str:
        token = "tok_" + secrets.token_hex(12)
        with self.lock:
            self.logins += 1
            self.tokens.add(token)
        return token

    def bearer_ok(self, handler: BaseHTTPRequestHandler) -> bool:
        scheme, _, token = (handler.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and token in self.tokens


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = script.answer(self, body)
            if answer is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, payload = answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

    return Handler


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """Run the server on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
