"""The demo target's ASGI app: routing by the contract, delays and the faults that touch every answer, CORS.

Every request reads the current release from the state file (cheaply, see `releases.ReleaseWatcher`), so a
`deploy`/`rollback` from another process changes the app's behaviour on the next request.
The routing is hand-written on purpose: Schemathesis' default checks want exact 405s with an `Allow`
header, request bodies drained on every path, and validation that matches `/openapi.json` exactly.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from synthgate.demo import cold_a11y_faults, faults, openapi, readiness_faults, user_faults
from synthgate.demo.contract import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OPENAPI_PATH,
    OPERATIONS,
    PAGE_PATHS,
    is_api,
    path_regex,
)
from synthgate.demo.handlers import Handlers
from synthgate.demo.html_pages import Pages
from synthgate.demo.messages import Handler, Reply, Req, dumps, read_body
from synthgate.demo.releases import ReleaseWatcher, db_path_for
from synthgate.demo.store import Store

log = logging.getLogger("synthgate.demo")

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The one templated route: `cold-start-slow` keeps one warm flag for all campaigns, as for one function.
CAMPAIGN_PATH_RE = path_regex("/api/campaign/{id}")


def route_table(handlers: Handlers) -> dict[str, dict[str, Handler]]:
    """path (templates as declared) -> {method: handler}, for every contract operation, the pages and the spec."""
    declared = {op.operation_id for op in OPERATIONS}
    if declared != set(handlers.api) or set(PAGE_PATHS) != set(handlers.pages_by_path):
        raise RuntimeError(f"demo handlers do not match the contract: operations {sorted(declared ^ set(handlers.api))}"
                           f", pages {sorted(set(PAGE_PATHS) ^ set(handlers.pages_by_path))}")
    routes: dict[str, dict[str, Handler]] = {}
    for op in OPERATIONS:
        routes.setdefault(op.path, {})[op.method] = handlers.api[op.operation_id]
    routes[OPENAPI_PATH] = {"GET": handlers.openapi}
    for path in PAGE_PATHS:
        routes[path] = {"GET": handlers.pages_by_path[path]}
    return routes


class DemoTarget:
    """The ASGI application proper: routing, faults, CORS; the handlers answer."""

    def __init__(self, state_path: Path, db_path: Path | None = None, allowed_origins: tuple[str, ...] = ()) -> None:
        self.watcher = ReleaseWatcher(state_path)
        self.store = Store(db_path or db_path_for(Path(state_path)))
        self.pages = Pages()
        self.cold_starts = cold_a11y_faults.ColdStarts()
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        self.handlers = Handlers(self.store, self.pages, self.watcher.path, dumps(openapi.document()))
        # path -> {method: handler}; GET routes answer HEAD as well.
        self.routes = route_table(self.handlers)
        self._exact = {path: methods for path, methods in self.routes.items() if "{" not in path}
        self._templates = [(path_regex(path), methods) for path, methods in self.routes.items() if "{" in path]

    # ---- dispatch -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        body, too_large = await read_body(receive)
        release = self.watcher.current()
        req = Req(
            method=scope["method"].upper(),
            path=scope["path"],
            headers=Headers(scope=scope),
            body=body,
            body_too_large=too_large,
            scheme=scope.get("scheme", "http"),
            release=release,
        )
        api = is_api(req.path)
        fault = req.fault
        delay = faults.api_delay_s(fault) if api else faults.page_delay_s(fault)
        delay += faults.endpoint_delay_s(fault, req.path)
        delay += self.cold_starts.delay_s(fault, release["version"],
                                          cold_a11y_faults.endpoint(req.path, self.routes, CAMPAIGN_PATH_RE))
        if delay:
            await asyncio.sleep(delay)  # async: a slow release must not block other requests
        if api and faults.spike_error(fault):
            reply = Reply(500, INTERNAL_ERROR)
        else:
            try:
                reply = await self._dispatch(req, api)
            except Exception as exc:  # the safety net a real framework has: generic 500, no details
                log.warning("%s %s failed: %s", req.method, req.path, type(exc).__name__)
                reply = Reply(500, body=b"Internal Server Error", media_type="text/plain; charset=utf-8")
        await self._send(req, reply, api, send)

    def _route(self, req: Req) -> dict[str, Handler] | None:
        methods = self._exact.get(req.path)
        if methods is None:
            for regex, candidate in self._templates:
                match = regex.fullmatch(req.path)
                if match is not None:
                    req.params.update(match.groupdict())
                    methods = candidate
                    break
            else:
                return None
        fault = req.fault
        if fault == "missing-route" and req.path == "/api/generate":
            return None
        if fault == "page-404" and req.path in ("/intake", "/intake.html"):
            return None
        return methods

    async def _dispatch(self, req: Req, api: bool) -> Reply:
        methods = self._route(req)
        if methods is None:
            if api:
                return Reply(404, NOT_FOUND)
            return self.handlers.not_found_page()
        allowed = list(methods)
        if "GET" in methods:
            allowed.append("HEAD")
        allowed.append("OPTIONS")
        allow = ", ".join(allowed)
        if req.method == "OPTIONS":
            return self._preflight(req, allowed, allow)
        handler = methods.get("GET" if req.method == "HEAD" else req.method)
        if handler is None:
            if api or req.path == OPENAPI_PATH:
                return Reply(405, METHOD_NOT_ALLOWED, headers={"allow": allow})
            return Reply(
                405, body=b"Method Not Allowed", media_type="text/plain; charset=utf-8", headers={"allow": allow}
            )
        return await handler(req)

    def _origin_allowed(self, req: Req) -> str | None:
        """The request's Origin if it may read the response: the target's own origin or a configured one."""
        origin = req.headers.get("origin")
        host = req.headers.get("host")
        if not origin or not host:
            return None
        normalised = origin.rstrip("/").lower()
        own = f"{req.scheme}://{host}".lower()
        if normalised == own or normalised in self.allowed_origins:
            return origin
        return None

    def _preflight(self, req: Req, allowed: list[str], allow: str) -> Reply:
        headers = {"allow": allow}
        origin = self._origin_allowed(req)
        wanted = (req.headers.get("access-control-request-method") or "").upper()
        if origin and wanted in allowed:
            headers.update(
                {
                    "access-control-allow-methods": allow,
                    "access-control-allow-headers": "Content-Type, Authorization",
                    "access-control-max-age": "600",
                }
            )
        return Reply(204, body=b"", media_type="", headers=headers)

    async def _send(self, req: Req, reply: Reply, api: bool, send: Send) -> None:
        payload = reply.payload
        if req.fault == "leak-stacktrace" and 400 <= reply.status < 500 and isinstance(payload, dict):
            payload = {**payload, "trace": faults.LEAKED_TRACE}
        if req.fault == "json-stack" and 400 <= reply.status < 500 and isinstance(payload, dict) and "error" in payload:
            payload = {**payload, "stack": faults.JS_STACK}
        body = reply.body if reply.body is not None else dumps(payload)
        headers: list[tuple[bytes, bytes]] = []
        if reply.media_type:
            headers.append((b"content-type", reply.media_type.encode()))
        if reply.status != 204:
            headers.append((b"content-length", str(len(body)).encode()))
        extra = {**SECURITY_HEADERS, "cache-control": "no-store", **reply.headers}
        extra = readiness_faults.response_headers(req.fault, req.scheme, extra)
        if reply.media_type.startswith("text/html"):
            extra["content-security-policy"] = PAGE_CSP
        if api:
            extra["vary"] = "Origin"
            origin = self._origin_allowed(req)
            if origin:
                # Only the own (or a configured) origin, never `*`: responses carry a session cookie.
                extra["access-control-allow-origin"] = origin
                extra["access-control-allow-credentials"] = "true"
        headers.extend((name.encode(), value.encode("latin-1")) for name, value in extra.items())
        cookies = [user_faults.cookie_flags_dropped(req.fault, req.method, req.path, reply.status, c)
                   for c in reply.cookies]
        cookies = readiness_faults.cookies(req.fault, req.scheme, cookies)
        headers.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in cookies)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
