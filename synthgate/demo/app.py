"""The embedded demo target as a Starlette app: a small app with the reference deployments' surface.

Its parts, one job each: contract.py (routes, fields, limits, error answers), openapi.py (/openapi.json built from
the contract), validation.py, store.py (SQLite state), html_pages.py, handlers.py, routes.py (the ASGI app:
routing, faults, CORS).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette

from synthgate.demo.routes import DemoTarget

__all__ = ["DemoTarget", "create_app"]


def create_app(state_path: Path, db_path: Path | None = None, allowed_origins: tuple[str, ...] = ()) -> Starlette:
    """The demo target as a Starlette app reading its release from `state_path`."""
    target = DemoTarget(Path(state_path), db_path, allowed_origins)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        target.store.close()

    # No routes: every request falls to the router's default, the target. Starlette's path regexes
    # would 404 paths holding a newline in plain text, and its 405s lack the JSON body we declare.
    app = Starlette(routes=[], lifespan=lifespan)
    app.router.default = target
    app.state.target = target
    return app
