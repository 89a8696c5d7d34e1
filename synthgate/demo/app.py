"""The embedded demo target: a small Starlette app with the reference deployments' surface.

Every request reads the current release from the state file (cheaply, see `ReleaseWatcher`), so a
`deploy`/`rollback` from another process changes the app's behaviour on the next request.
The routing is hand-written on purpose: Schemathesis' default checks want exact 405s with an `Allow`
header, request bodies drained on every path, and validation that matches `/openapi.json` exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from synthgate.demo import cold_a11y_faults, contract_faults, faults, page_faults, readiness_faults, user_faults
from synthgate.demo.releases import Release, ReleaseWatcher, db_path_for

log = logging.getLogger("synthgate.demo")

DEMO_EMAIL = "demo@synthgate.dev"
DEMO_PASSWORD = "demo-password"  # a public demo credential, not a secret
SESSION_COOKIE = "coldcopy_session"
MAX_GENERATIONS = 1
TOKEN_TTL_S = 3600
MAX_BODY_BYTES = 1 << 20  # larger bodies are drained and rejected with 400

# Email syntax, shared verbatim with /openapi.json. ASCII classes only, so Python's `re`, the
# ECMA-262 reading Schemathesis validates with, and browsers all agree on every string.
EMAIL_REGEX = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
EMAIL_RE = re.compile(EMAIL_REGEX)
EMAIL_PATTERN = f"^{EMAIL_REGEX}$"
EMAIL_MAX = 254

# name -> (min, max) length; intake fields are all required, non-empty strings.
INTAKE_FIELDS: dict[str, tuple[int, int]] = {
    "user_email": (1, EMAIL_MAX),
    "user_name": (1, 100),
    "target_name": (1, 100),
    "target_company": (1, 100),
    "target_reason": (1, 2000),
    "user_background": (1, 2000),
}
# The ColdCopy request contract.
GENERATE_FIELDS: dict[str, tuple[int, int]] = {
    "companyName": (1, 50),
    "targetJobTitle": (1, 100),
    "problemTheyFace": (10, 300),
    "yourProduct": (10, 200),
    "keyBenefit": (10, 150),
    "callToAction": (10, 100),
}
TONES = ("Professional", "Casual", "Direct", "Friendly")
LOGIN_FIELDS: dict[str, tuple[int, int]] = {"email": (1, EMAIL_MAX), "password": (1, 256)}

SESSION_ID_RE = re.compile(r"[0-9a-f]{32}")
CAMPAIGN_PATH_RE = re.compile(r"/api/campaign/([^/]+)")
API_PREFIXES = ("/api/", "/auth/", "/v1/")

SEED_CAMPAIGN = {  # the runbook's uptime monitor watches /api/campaign/test
    "user_email": "operator@synthgate.dev",
    "user_name": "Uptime Monitor",
    "target_name": "Ada Lovelace",
    "target_company": "Analytical Engines Ltd",
    "target_reason": "The runbook's uptime monitor reads this campaign.",
    "user_background": "Synthetic monitoring.",
}
MANUSCRIPTS = [
    {"id": "ms_001", "title": "The Quiet Harbour", "status": "analyzed", "word_count": 84210},
    {"id": "ms_002", "title": "Letters from the Ridge", "status": "draft", "word_count": 12877},
]

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class BadRequest(Exception):
    """The request body is not what the endpoint accepts; the message is safe to show."""


@dataclass
class Reply:
    """What a handler answers; turned into ASGI messages in one place, where faults apply."""

    status: int
    payload: Any = None  # JSON body, when `body` is None
    body: bytes | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


@dataclass
class Req:
    """One request, its body already drained, and the release that answers it."""

    method: str
    path: str
    headers: Headers
    body: bytes
    body_too_large: bool
    scheme: str
    release: Release
    params: dict[str, str] = field(default_factory=dict)

    @property
    def fault(self) -> str | None:
        """The fault of the release answering this request."""
        return self.release["fault"]

    def cookie(self, name: str) -> str | None:
        """One cookie's value, or None."""
        raw = self.headers.get("cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(Exception):
            jar.load(raw)
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None


Handler = Callable[[Req], Awaitable[Reply]]


def _utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(payload: Any) -> bytes:
    # ensure_ascii: a lone surrogate in stored input must not crash the encoder.
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(req: Req) -> dict[str, Any]:
    """The body as a JSON object; BadRequest for anything else (empty, non-UTF-8, huge, malformed)."""
    if req.body_too_large:
        raise BadRequest("request body too large")
    if not req.body:
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(req.body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRequest("malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def _check_string(data: dict[str, Any], name: str, bounds: tuple[int, int]) -> str:
    # Lengths are checked on the string as sent: no trimming, so the server agrees with the schema.
    if name not in data:
        raise BadRequest(f"{name} is required")
    value = data[name]
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    low, high = bounds
    if len(value) < low:
        raise BadRequest(f"{name} must not be empty" if low == 1 else f"{name} must be at least {low} characters")
    if len(value) > high:
        raise BadRequest(f"{name} must be at most {high} characters")
    return value


def _check_email(value: str, name: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        raise BadRequest(f"{name} is not a valid email address")
    return value


def _crash_on_bad_input(data: dict[str, Any], names: list[str]) -> None:
    """The `crash-on-bad-input` bug: normalise fields before validating them."""
    for name in names:
        if name in data:
            value = data[name]
            normalised = value.strip()  # AttributeError on non-strings: the crash this fault is about
            if len(normalised) > faults.CRASH_STRING_LENGTH:
                raise OverflowError(f"{name} overflows the fixed-size buffer")


def _token_hash(token: str) -> str:
    # Only hashes are stored, so the database never holds a usable token.
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """SQLite storage: campaigns, per-session generation counts, login tokens."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection used from the event loop thread only; every statement is a few microseconds.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS campaigns (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, generations_used INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tokens (token_hash TEXT PRIMARY KEY, email TEXT NOT NULL,
                                               expires_at REAL NOT NULL);
            """
        )
        self.db.execute(
            "INSERT OR IGNORE INTO campaigns VALUES ('test', ?, ?)",
            (_utc_iso(datetime(2025, 1, 1, tzinfo=UTC)), json.dumps(SEED_CAMPAIGN)),
        )

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def add_campaign(self, fields: dict[str, str]) -> str:
        """Store a campaign and return its new id."""
        campaign_id = "camp_" + secrets.token_hex(8)
        self.db.execute(
            "INSERT INTO campaigns VALUES (?, ?, ?)",
            (campaign_id, _utc_iso(datetime.now(UTC)), json.dumps(fields)),
        )
        return campaign_id

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """One campaign with its id, or None."""
        row = self.db.execute("SELECT created_at, data FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        if row is None:
            return None
        return {**json.loads(row[1]), "id": campaign_id, "created_at": row[0]}

    def generations_used(self, session_id: str) -> int:
        """How many generations this session has used."""
        row = self.db.execute("SELECT generations_used FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return int(row[0]) if row else 0

    def count_generation(self, session_id: str) -> None:
        """Record one more generation for this session."""
        self.db.execute(
            "INSERT INTO sessions VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET generations_used = generations_used + 1",
            (session_id,),
        )

    def issue_token(self, email: str) -> str:
        """A new bearer token for `email`."""
        token = "sgd_" + secrets.token_urlsafe(24)
        now = time.time()
        self.db.execute("DELETE FROM tokens WHERE expires_at < ?", (now,))
        self.db.execute("INSERT INTO tokens VALUES (?, ?, ?)", (_token_hash(token), email, now + TOKEN_TTL_S))
        return token

    def token_valid(self, token: str) -> bool:
        """Whether `token` was issued and has not expired."""
        row = self.db.execute("SELECT expires_at FROM tokens WHERE token_hash = ?", (_token_hash(token),)).fetchone()
        return row is not None and row[0] > time.time()


def _load_page_asset(name: str) -> str:
    return resources.files("synthgate.demo").joinpath("pages", name).read_text(encoding="utf-8")


# Fault variants of the page script are edits of exact lines; a missing marker fails at import.
_TOGGLE_LINE = "setLanguage(next); // @toggle"
_TOGGLE_BROKEN = 'document.documentElement.setAttribute("data-pending-language", next); // @toggle'
_INTAKE_LINE = 'location.href = "/dashboard?campaign=" + encodeURIComponent(data.campaign_id); // @intake-success'
_INTAKE_BROKEN = 'location.href = "/dashboard"; // @intake-success'
_CONSOLE_ERROR_SCRIPT = (
    '<script>console.error("analytics: failed to initialise");window.sgAnalytics.track("landing");</script>\n</body>'
)


class Pages:
    """The HTML pages, rendered once per (page, fault) and kept in memory."""

    def __init__(self) -> None:
        self._script = _load_page_asset("app.js")
        self._style = _load_page_asset("style.css")
        for marker in (_TOGGLE_LINE, _INTAKE_LINE):
            if marker not in self._script:
                raise RuntimeError(f"demo page script lost its fault marker: {marker}")
        self._templates = {
            name: _load_page_asset(f"{name}.html") for name in ("landing", "intake", "dashboard", "not_found")
        }
        self._cache: dict[tuple[str, str | None], bytes] = {}

    def render(self, name: str, fault: str | None) -> bytes:
        """The page `name` as the release carrying `fault` serves it."""
        key = (name, fault)
        page = self._cache.get(key)
        if page is None:
            script = self._script
            if fault == "toggle-broken":
                script = script.replace(_TOGGLE_LINE, _TOGGLE_BROKEN)
            if fault == "intake-broken":
                script = script.replace(_INTAKE_LINE, _INTAKE_BROKEN)
            script = page_faults.script(fault, script)
            script = contract_faults.script(fault, script)
            script = user_faults.script(fault, script)
            html = self._templates[name].replace("/*STYLE*/", self._style).replace("/*SCRIPT*/", script)
            if fault == "console-error" and name == "landing":
                html = html.replace("</body>", _CONSOLE_ERROR_SCRIPT, 1)
            html = page_faults.page(name, fault, html)
            html = user_faults.page(name, fault, html)
            page = html.encode("utf-8")
            self._cache[key] = page
        return page


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """Drain the whole request body (always: leftover bytes would poison the keep-alive connection)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return (b"" if size > MAX_BODY_BYTES else b"".join(chunks)), size > MAX_BODY_BYTES


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/manuscripts"


class DemoTarget:
    """The ASGI application proper: routing, faults, CORS and the handlers."""

    def __init__(self, state_path: Path, db_path: Path | None = None, allowed_origins: tuple[str, ...] = ()) -> None:
        self.watcher = ReleaseWatcher(state_path)
        self.store = Store(db_path or db_path_for(Path(state_path)))
        self.pages = Pages()
        self.cold_starts = cold_a11y_faults.ColdStarts()
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        self._openapi = _dumps(openapi_document())
        # path -> {method: handler}; GET routes answer HEAD as well.
        self.routes: dict[str, dict[str, Handler]] = {
            "/v1/health": {"GET": self.health},
            "/api/intake": {"POST": self.intake},
            "/api/campaign/{id}": {"GET": self.campaign},
            "/api/generate": {"POST": self.generate},
            "/api/session": {"GET": self.session},
            "/auth/login": {"POST": self.login},
            "/auth/password-reset-request": {"POST": self.password_reset},
            "/manuscripts": {"GET": self.manuscripts},
            "/openapi.json": {"GET": self.openapi},
            "/": {"GET": self.landing},
            "/intake": {"GET": self.intake_page},
            "/intake.html": {"GET": self.intake_redirect},
            "/dashboard": {"GET": self.dashboard},
        }

    # ---- dispatch -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        body, too_large = await _read_body(receive)
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
        api = _is_api(req.path)
        fault = req.fault
        delay = faults.api_delay_s(fault) if api else faults.page_delay_s(fault)
        delay += faults.endpoint_delay_s(fault, req.path)
        delay += self.cold_starts.delay_s(fault, release["version"],
                                          cold_a11y_faults.endpoint(req.path, self.routes, CAMPAIGN_PATH_RE))
        if delay:
            await asyncio.sleep(delay)  # async: a slow release must not block other requests
        if api and faults.spike_error(fault):
            reply = Reply(500, {"error": "internal_error"})
        else:
            try:
                reply = await self._dispatch(req, api)
            except Exception as exc:  # the safety net a real framework has: generic 500, no details
                log.warning("%s %s failed: %s", req.method, req.path, type(exc).__name__)
                reply = Reply(500, body=b"Internal Server Error", media_type="text/plain; charset=utf-8")
        await self._send(req, reply, api, send)

    def _route(self, req: Req) -> dict[str, Handler] | None:
        methods = self.routes.get(req.path)
        if methods is None:
            match = CAMPAIGN_PATH_RE.fullmatch(req.path)
            if match is None:
                return None
            req.params["id"] = match.group(1)
            methods = self.routes["/api/campaign/{id}"]
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
                return Reply(404, {"success": False, "error": "not_found"})
            return Reply(404, body=self.pages.render("not_found", None), media_type="text/html; charset=utf-8")
        allowed = list(methods)
        if "GET" in methods:
            allowed.append("HEAD")
        allowed.append("OPTIONS")
        allow = ", ".join(allowed)
        if req.method == "OPTIONS":
            return self._preflight(req, allowed, allow)
        handler = methods.get("GET" if req.method == "HEAD" else req.method)
        if handler is None:
            if api or req.path == "/openapi.json":
                return Reply(405, {"error": "method_not_allowed"}, headers={"allow": allow})
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
        body = reply.body if reply.body is not None else _dumps(payload)
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

    # ---- API ------------------------------------------------------------------------------------

    async def health(self, req: Req) -> Reply:
        """GET /v1/health."""
        if req.fault == "health-500":
            return Reply(500, {"status": "error", "environment": "production", "error": "database unavailable"})
        now = datetime.now(UTC)
        if req.fault == "health-stale":
            now -= timedelta(hours=2)
        return Reply(
            200,
            {
                "status": "ok",
                "environment": "production",
                "timestamp": _utc_iso(now),
                "version": readiness_faults.shown_version(self.watcher.path, req.release),
            },
        )

    async def intake(self, req: Req) -> Reply:
        """POST /api/intake: validate, store, answer the new campaign id."""
        try:
            data = parse_json_object(req)
            if req.fault == "crash-on-bad-input":
                _crash_on_bad_input(data, list(INTAKE_FIELDS))
            if req.fault == "long-field-crash" and any(isinstance(v, str) and len(v) > faults.LONG_FIELD_LENGTH
                                                       for v in data.values()):
                raise OverflowError("intake field over the fixed-size column")  # the 500 this fault is about
            fields = {name: _check_string(data, name, bounds) for name, bounds in INTAKE_FIELDS.items()}
            _check_email(fields["user_email"], "user_email")
        except BadRequest as exc:
            return Reply(400, {"success": False, "error": str(exc)})
        return Reply(200, {"success": True, "campaign_id": self.store.add_campaign(fields)})

    async def campaign(self, req: Req) -> Reply:
        """GET /api/campaign/<id>."""
        found = self.store.campaign(req.params["id"])
        if found is None:
            return Reply(404, {"success": False, "error": "not_found"})
        return Reply(200, {"success": True, "campaign": found})

    def _session_id(self, req: Req) -> tuple[str, list[str]]:
        """This request's session id, and the Set-Cookie to send when the request had none."""
        sid = req.cookie(SESSION_COOKIE)
        if sid and SESSION_ID_RE.fullmatch(sid):
            return sid, []
        sid = secrets.token_hex(16)
        return sid, [f"{SESSION_COOKIE}={sid}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"]

    async def generate(self, req: Req) -> Reply:
        """POST /api/generate: one free generation per session, validation before the quota."""
        sid, cookies = self._session_id(req)
        try:
            data = parse_json_object(req)
            if req.fault == "crash-on-bad-input":
                _crash_on_bad_input(data, [*GENERATE_FIELDS, "tone"])
            fields = {name: _check_string(data, name, bounds) for name, bounds in GENERATE_FIELDS.items()}
            if "tone" not in data:
                raise BadRequest("tone is required")
            if data["tone"] not in TONES:  # `in` on a tuple of str: non-strings simply do not match
                raise BadRequest(f"tone must be one of {', '.join(TONES)}")
            fields["tone"] = data["tone"]
        except BadRequest as exc:
            return Reply(400, {"error": str(exc)}, cookies=cookies)
        if self.store.generations_used(sid) >= MAX_GENERATIONS and req.fault != "rate-limit-off":
            return Reply(
                402,
                {
                    "error": "rate_limit_exceeded",
                    "message": f"The free plan includes {MAX_GENERATIONS} generation per session. Upgrade for more.",
                },
                cookies=cookies,
            )
        self.store.count_generation(sid)
        return Reply(
            200,
            {"success": True, "sequenceId": "seq_" + secrets.token_hex(8), "sequence": {"emails": _sequence(fields)}},
            cookies=cookies,
        )

    async def session(self, req: Req) -> Reply:
        """GET /api/session: the session's plan and quota."""
        sid, cookies = self._session_id(req)
        used = self.store.generations_used(sid)
        body = {"plan": "free", "generations_used": used, "max_generations": MAX_GENERATIONS}
        headers = {"cache-control": user_faults.PUBLIC_CACHE} if req.fault == "session-public-cache" else {}
        return Reply(200, contract_faults.session_body(req.fault, body), cookies=cookies, headers=headers)

    async def login(self, req: Req) -> Reply:
        """POST /auth/login: a bearer token for the demo account, 401 otherwise."""
        try:
            data = parse_json_object(req)
            email = _check_string(data, "email", LOGIN_FIELDS["email"])
            password = _check_string(data, "password", LOGIN_FIELDS["password"])
        except BadRequest as exc:
            return Reply(400, {"error": str(exc)})
        # compare_digest on both: the answer's timing does not tell which part was wrong.
        ok_email = hmac.compare_digest(email.encode("utf-8", "surrogatepass"), DEMO_EMAIL.encode())
        ok_password = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), DEMO_PASSWORD.encode())
        if not (ok_email and ok_password):
            return Reply(401, {"error": "invalid_credentials"})
        return Reply(200, {"token": self.store.issue_token(email), "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    async def password_reset(self, req: Req) -> Reply:
        """POST /auth/password-reset-request: one answer whether or not the account exists."""
        try:
            data = parse_json_object(req)
            _check_email(_check_string(data, "email", (1, EMAIL_MAX)), "email")
        except BadRequest as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(
            200, {"success": True, "message": "If an account exists for that email, a reset link has been sent."}
        )

    async def manuscripts(self, req: Req) -> Reply:
        """GET /manuscripts: 401 without a valid bearer token."""
        forged_ok = user_faults.any_bearer_accepted(req.fault, req.headers.get("authorization"))
        if req.fault != "auth-open" and not forged_ok:
            scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip() or not self.store.token_valid(token.strip()):
                return Reply(401, {"error": "unauthorized"}, headers={"www-authenticate": "Bearer"})
        return Reply(200, {"manuscripts": MANUSCRIPTS})

    async def openapi(self, req: Req) -> Reply:
        """GET /openapi.json."""
        return Reply(200, body=self._openapi)

    # ---- pages ----------------------------------------------------------------------------------

    def _page(self, name: str, req: Req) -> Reply:
        body = readiness_faults.page_body(name, req.fault, self.pages.render(name, req.fault))
        body = cold_a11y_faults.page(name, req.fault, body)
        return Reply(200, body=body, media_type="text/html; charset=utf-8")

    async def landing(self, req: Req) -> Reply:
        """GET /."""
        if req.fault == "zh-page-500" and user_faults.prefers_chinese(req.headers.get("accept-language")):
            return Reply(500, body=b"Internal Server Error", media_type="text/plain; charset=utf-8")
        return self._page("landing", req)

    async def intake_page(self, req: Req) -> Reply:
        """GET /intake."""
        return self._page("intake", req)

    async def intake_redirect(self, req: Req) -> Reply:
        """GET /intake.html: the old address of the form."""
        return Reply(301, body=b"", media_type="", headers={"location": "/intake"})

    async def dashboard(self, req: Req) -> Reply:
        """GET /dashboard?campaign=<id>: the page loads the campaign itself."""
        return self._page("dashboard", req)


def _sequence(fields: dict[str, str]) -> list[dict[str, str]]:
    """Three deterministic fake emails built from the inputs (the real app calls an AI model)."""
    company, title, tone = fields["companyName"], fields["targetJobTitle"], fields["tone"]
    greeting = {"Professional": "Dear", "Casual": "Hey", "Direct": "Hi", "Friendly": "Hello"}[tone]
    return [
        {
            "subject": f"{company}: {fields['problemTheyFace'][:60]}",
            "body": f"{greeting} {title} at {company},\n\n{fields['problemTheyFace']}\n\n"
            f"{fields['yourProduct']} helps: {fields['keyBenefit']}.\n\n{fields['callToAction']}",
        },
        {
            "subject": f"Re: {company} and {fields['keyBenefit'][:60]}",
            "body": f"{greeting} again,\n\nTeams like yours use {fields['yourProduct']} for one reason: "
            f"{fields['keyBenefit']}.\n\n{fields['callToAction']}",
        },
        {
            "subject": f"Last note for the {title} at {company}",
            "body": f"{greeting} {title},\n\nI will stop here. If {fields['problemTheyFace']} is still open, "
            f"{fields['callToAction']}",
        },
    ]


# ---- OpenAPI ------------------------------------------------------------------------------------


def _string(bounds: tuple[int, int], **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": bounds[0], "maxLength": bounds[1], **extra}


def _object(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # Extra properties are accepted (no additionalProperties: false), as the server ignores them.
    return {"type": "object", "required": list(fields), "properties": fields}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _response(description: str, schema_ref: str) -> dict[str, Any]:
    return {"description": description, **_json_content({"$ref": f"#/components/schemas/{schema_ref}"})}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the JSON API, built from the same constants the handlers check."""
    error = _response("error", "Error")
    not_allowed = _response("method not allowed", "Error")
    email = _string((1, EMAIL_MAX), pattern=EMAIL_PATTERN)
    intake_props = {name: _string(bounds) for name, bounds in INTAKE_FIELDS.items()}
    intake_props["user_email"] = email
    generate_props: dict[str, dict[str, Any]] = {name: _string(b) for name, b in GENERATE_FIELDS.items()}
    generate_props["tone"] = {"type": "string", "enum": list(TONES)}

    def body(schema_ref: str) -> dict[str, Any]:
        return {"required": True, **_json_content({"$ref": f"#/components/schemas/{schema_ref}"})}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "synthgate demo target",
            "version": "1.4.0",
            "description": "The embedded demo target's JSON API.",
        },
        "paths": {
            "/v1/health": {
                "get": {
                    "operationId": "health",
                    "responses": {"200": _response("healthy", "Health"), "405": not_allowed},
                }
            },
            "/api/intake": {
                "post": {
                    "operationId": "createIntake",
                    "requestBody": body("IntakeRequest"),
                    "responses": {
                        "200": {
                            **_response("campaign created", "IntakeCreated"),
                            "links": {
                                "GetCampaign": {
                                    "operationId": "getCampaign",
                                    "parameters": {"id": "$response.body#/campaign_id"},
                                }
                            },
                        },
                        "400": error,
                        "405": not_allowed,
                    },
                }
            },
            "/api/campaign/{id}": {
                "get": {
                    "operationId": "getCampaign",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                    ],
                    "responses": {
                        "200": _response("the campaign", "CampaignResponse"),
                        "404": error,
                        "405": not_allowed,
                    },
                }
            },
            "/api/generate": {
                "post": {
                    "operationId": "generate",
                    "requestBody": body("GenerateRequest"),
                    "responses": {
                        "200": _response("a generated sequence", "GenerateResponse"),
                        "400": error,
                        "402": _response("the free generation is spent", "Error"),
                        "405": not_allowed,
                    },
                }
            },
            "/api/session": {
                "get": {
                    "operationId": "getSession",
                    "responses": {"200": _response("the session's quota", "Session"), "405": not_allowed},
                }
            },
            "/auth/login": {
                "post": {
                    "operationId": "login",
                    "requestBody": body("LoginRequest"),
                    "responses": {
                        "200": _response("logged in", "Token"),
                        "400": error,
                        "401": _response("invalid credentials", "Error"),
                        "405": not_allowed,
                    },
                }
            },
            "/auth/password-reset-request": {
                "post": {
                    "operationId": "requestPasswordReset",
                    "requestBody": body("PasswordResetRequest"),
                    "responses": {
                        "200": _response("same answer whether or not the account exists", "Message"),
                        "400": error,
                        "405": not_allowed,
                    },
                }
            },
            "/manuscripts": {
                "get": {
                    "operationId": "listManuscripts",
                    "security": [{"bearerAuth": []}],
                    "responses": {
                        "200": _response("the manuscripts", "Manuscripts"),
                        "401": _response("missing or invalid token", "Error"),
                        "405": not_allowed,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "success": {"type": "boolean", "const": False},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "environment", "timestamp", "version"],
                    "properties": {
                        "status": {"type": "string", "const": "ok"},
                        "environment": {"type": "string"},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "version": {"type": "string"},
                    },
                },
                "IntakeRequest": _object(intake_props),
                "IntakeCreated": {
                    "type": "object",
                    "required": ["success", "campaign_id"],
                    "properties": {
                        "success": {"type": "boolean", "const": True},
                        "campaign_id": {"type": "string", "pattern": "^camp_[0-9a-f]+$"},
                    },
                },
                "CampaignResponse": {
                    "type": "object",
                    "required": ["success", "campaign"],
                    "properties": {
                        "success": {"type": "boolean", "const": True},
                        "campaign": {
                            "type": "object",
                            "required": ["id", *INTAKE_FIELDS],
                            "properties": {
                                "id": {"type": "string"},
                                "created_at": {"type": "string"},
                                **{name: {"type": "string"} for name in INTAKE_FIELDS},
                            },
                        },
                    },
                },
                "GenerateRequest": _object(generate_props),
                "GenerateResponse": {
                    "type": "object",
                    "required": ["success", "sequenceId", "sequence"],
                    "properties": {
                        "success": {"type": "boolean", "const": True},
                        "sequenceId": {"type": "string"},
                        "sequence": {
                            "type": "object",
                            "required": ["emails"],
                            "properties": {
                                "emails": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["subject", "body"],
                                        "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
                                    },
                                }
                            },
                        },
                    },
                },
                "Session": {
                    "type": "object",
                    "required": ["plan", "generations_used", "max_generations"],
                    "properties": {
                        "plan": {"type": "string"},
                        "generations_used": {"type": "integer", "minimum": 0},
                        "max_generations": {"type": "integer", "minimum": 0},
                    },
                },
                "LoginRequest": _object({name: _string(bounds) for name, bounds in LOGIN_FIELDS.items()}),
                "Token": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {"type": "string"},
                        "token_type": {"type": "string"},
                        "expires_in": {"type": "integer"},
                    },
                },
                "PasswordResetRequest": _object({"email": email}),
                "Message": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}},
                },
                "Manuscripts": {
                    "type": "object",
                    "required": ["manuscripts"],
                    "properties": {
                        "manuscripts": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "title"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"type": "string"},
                                    "word_count": {"type": "integer"},
                                },
                            },
                        }
                    },
                },
            },
        },
    }


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
