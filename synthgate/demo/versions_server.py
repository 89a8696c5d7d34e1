"""Serving the demo's versions behind one port, with Cloudflare's routing contract.

Each request goes to a version of the current deployment: the one the `Cloudflare-Workers-Version-Overrides`
header names (`demo="<id>"`), when that version is part of the deployment (at 0 % too), else one drawn by the
deployment's percentages. An override naming a version outside the deployment, or one that does not parse as
an RFC 8941 dictionary, is ignored and the split applies. Every answer carries `X-Demo-Version: <id>`.
Each version is its own demo app instance (its own fault), all sharing one database.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from synthgate.demo import versions
from synthgate.demo.releases import ChangedFile, db_path_for
from synthgate.demo.routes import DemoTarget
from synthgate.demo.versions_header import OVERRIDE_HEADER, override_for

VERSION_HEADER = "X-Demo-Version"
_OVERRIDE = OVERRIDE_HEADER.lower().encode()


def _read_deployment(state: Path) -> tuple[dict[str, float], str]:
    """The deployment's split {version: percent} and the worker name the override header uses."""
    data = versions.read(state)
    return {str(k): float(v) for k, v in data["deployment"].items()}, str(data.get("worker") or versions.WORKER_NAME)


class VersionRouter:
    """The ASGI app that picks a version per request and hands the request to that version's demo app."""

    def __init__(self, state: Path) -> None:
        self.state = Path(state)
        self.apps: dict[str, DemoTarget] = {}
        self._deployment = ChangedFile(self.state, _read_deployment, ({}, versions.WORKER_NAME),
                                       (versions.VersionsError,))

    def deployment(self) -> dict[str, float]:
        """The current deployment, re-read only when the state file changed (one stat per request)."""
        return self._deployment.get()[0]

    def pick(self, headers: list[tuple[bytes, bytes]]) -> str:
        """The version that answers a request with these headers."""
        deployment, worker = self._deployment.get()
        wanted = override_for(worker, [v.decode("latin-1") for k, v in headers if k == _OVERRIDE])
        if wanted is not None and wanted in deployment:
            return wanted
        live = [(v, p) for v, p in deployment.items() if p > 0]
        return random.choices([v for v, _ in live], weights=[p for _, p in live])[0]

    def app_for(self, version: str) -> DemoTarget:
        """The demo app of `version`, made on its first request."""
        app = self.apps.get(version)
        if app is None:
            app = DemoTarget(versions.release_file(self.state, version), db_path_for(self.state))
            self.apps[version] = app
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        version = self.pick(list(scope.get("headers", [])))
        tag = (VERSION_HEADER.lower().encode(), version.encode())

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), tag]}
            await send(message)

        await self.app_for(version)(scope, receive, send_tagged)

    def close(self) -> None:
        """Close every version's database connection."""
        for app in self.apps.values():
            app.store.close()


def create_app(state: Path) -> Starlette:
    """The versions stand-in as a Starlette app."""
    router = VersionRouter(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        router.close()

    app = Starlette(routes=[], lifespan=lifespan)
    app.router.default = router
    app.state.router = router
    return app


def serve(port: int, state: Path, fault: str | None = None, host: str = "127.0.0.1") -> None:
    """Start fresh (v1 at 100 %, healthy or carrying `fault`) and serve every version on one port until stopped."""
    import uvicorn

    versions.init(state, fault)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False, "timeout_keep_alive": 10,
                               "server_header": False}
    uvicorn.run(create_app(state), host=host, port=port, **options)
