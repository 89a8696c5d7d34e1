"""The demo target's serving process: `python -m synthgate.demo.serve`, as EmbeddedTarget starts it.

Kept apart from EmbeddedTarget (synthgate.demo.server), which the gate's side uses: the serving process imports
only what serves (Starlette, uvicorn), not the gate's HTTP client and run context, about 0.2 s of CPU per start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from pathlib import Path

import uvicorn

from synthgate.demo.app import create_app
from synthgate.demo.faults import FAULTS, check_fault
from synthgate.demo.releases import default_state_path, init_state
from synthgate.demo.tls import uses_tls


def serve(port: int, state_path: Path | None = None, fault: str | None = None, host: str = "127.0.0.1",
          tls: bool = False) -> None:
    """Initialise the release state (healthy, or carrying `fault`) and serve the demo target until stopped."""
    check_fault(fault)
    state = Path(state_path) if state_path is not None else default_state_path(port)
    init_state(state, fault)
    app = create_app(state)
    # HTTPS with a CA and certificate made now (for `cert-expiring`, one that ends in 3 days)
    ssl_args: dict[str, str] = {}
    if uses_tls(fault, tls):
        from synthgate.demo.certs import uvicorn_tls_args  # deferred: cryptography loads only to serve HTTPS

        ssl_args = uvicorn_tls_args(state, fault, host)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # access lines would carry query strings; nothing here needs them
        timeout_keep_alive=10,  # load generators keep connections open between requests
        server_header=False,
        **ssl_args,  # type: ignore[arg-type]
    )


def watch_parent(fd: int) -> None:
    """Exit at once when the pipe `fd` reaches EOF: the process that started us is gone."""

    def wait() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        os._exit(0)

    threading.Thread(target=wait, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """`python -m synthgate.demo.serve --port N [--state PATH] [--fault NAME]`."""
    parser = argparse.ArgumentParser(prog="python -m synthgate.demo.serve", description="Serve the demo target.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", type=Path, default=None,
                        help="state file (default: per port, in the temporary folder; SYNTHGATE_DEMO_STATE overrides)")
    parser.add_argument("--fault", choices=sorted(FAULTS), default=None, help="start with this broken release")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a CA and certificate made at start")
    parser.add_argument("--parent-fd", type=int, default=None, help="exit when this pipe closes (parent gone)")
    args = parser.parse_args(argv)
    if args.parent_fd is not None:
        watch_parent(args.parent_fd)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.state, args.fault, args.host, tls=args.tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
