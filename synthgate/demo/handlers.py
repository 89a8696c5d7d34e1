"""The demo target's handlers: one per API operation of the contract, one per page, and /openapi.json.

Each takes a drained `Req` and returns a `Reply`; routing, delays, CORS and the faults that touch every answer
are routes.py's. The faults here are the ones a single endpoint carries.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from synthgate.demo import cold_a11y_faults, contract_faults, faults, readiness_faults, user_faults
from synthgate.demo.contract import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    GENERATE,
    INTAKE,
    INVALID_CREDENTIALS,
    LOGIN,
    MAX_GENERATIONS,
    NOT_FOUND,
    PASSWORD_RESET,
    RATE_LIMIT_EXCEEDED,
    SESSION_COOKIE,
    SESSION_ID_RE,
    TOKEN_TTL_S,
    UNAUTHORIZED,
    RequestBody,
)
from synthgate.demo.html_pages import Pages
from synthgate.demo.messages import Handler, Reply, Req
from synthgate.demo.store import Store, utc_iso
from synthgate.demo.validation import BadRequest, check_body, crash_on_bad_input, parse_json_object

MANUSCRIPTS = [
    {"id": "ms_001", "title": "The Quiet Harbour", "status": "analyzed", "word_count": 84210},
    {"id": "ms_002", "title": "Letters from the Ridge", "status": "draft", "word_count": 12877},
]
HTML = "text/html; charset=utf-8"


def _bad_request(body: RequestBody, exc: BadRequest, cookies: list[str] | None = None) -> Reply:
    return Reply(400, {**body.failure, "error": str(exc)}, cookies=cookies or [])


class Handlers:
    """Every handler of the demo app, sharing its store, pages, release state path and OpenAPI document."""

    def __init__(self, store: Store, pages: Pages, state_path: Path, openapi_body: bytes) -> None:
        self.store = store
        self.pages = pages
        self.state_path = state_path
        self._openapi = openapi_body
        # contract operation id -> handler; routes.py checks this matches contract.OPERATIONS exactly
        self.api: dict[str, Handler] = {
            "health": self.health,
            "createIntake": self.intake,
            "getCampaign": self.campaign,
            "generate": self.generate,
            "getSession": self.session,
            "login": self.login,
            "requestPasswordReset": self.password_reset,
            "listManuscripts": self.manuscripts,
        }
        # page path -> handler; routes.py checks this matches contract.PAGE_PATHS exactly
        self.pages_by_path: dict[str, Handler] = {
            "/": self.landing,
            "/intake": self.intake_page,
            "/intake.html": self.intake_redirect,
            "/dashboard": self.dashboard,
        }

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
                "timestamp": utc_iso(now),
                "version": readiness_faults.shown_version(self.state_path, req.release),
            },
        )

    async def intake(self, req: Req) -> Reply:
        """POST /api/intake: validate, store, answer the new campaign id."""
        try:
            data = parse_json_object(req)
            if req.fault == "crash-on-bad-input":
                crash_on_bad_input(data, INTAKE.names)
            if req.fault == "long-field-crash" and any(isinstance(v, str) and len(v) > faults.LONG_FIELD_LENGTH
                                                       for v in data.values()):
                raise OverflowError("intake field over the fixed-size column")  # the 500 this fault is about
            fields = check_body(INTAKE, data)
        except BadRequest as exc:
            return _bad_request(INTAKE, exc)
        return Reply(200, {"success": True, "campaign_id": self.store.add_campaign(fields)})

    async def campaign(self, req: Req) -> Reply:
        """GET /api/campaign/<id>."""
        found = self.store.campaign(req.params["id"])
        if found is None:
            return Reply(404, NOT_FOUND)
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
                crash_on_bad_input(data, GENERATE.names)
            fields = check_body(GENERATE, data)
        except BadRequest as exc:
            return _bad_request(GENERATE, exc, cookies)
        if self.store.generations_used(sid) >= MAX_GENERATIONS and req.fault != "rate-limit-off":
            return Reply(
                402,
                {
                    "error": RATE_LIMIT_EXCEEDED,
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
            fields = check_body(LOGIN, parse_json_object(req))
        except BadRequest as exc:
            return _bad_request(LOGIN, exc)
        email, password = fields["email"], fields["password"]
        # compare_digest on both: the answer's timing does not tell which part was wrong.
        ok_email = hmac.compare_digest(email.encode("utf-8", "surrogatepass"), DEMO_EMAIL.encode())
        ok_password = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), DEMO_PASSWORD.encode())
        if not (ok_email and ok_password):
            return Reply(401, INVALID_CREDENTIALS)
        return Reply(200, {"token": self.store.issue_token(email), "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    async def password_reset(self, req: Req) -> Reply:
        """POST /auth/password-reset-request: one answer whether or not the account exists."""
        try:
            check_body(PASSWORD_RESET, parse_json_object(req))
        except BadRequest as exc:
            return _bad_request(PASSWORD_RESET, exc)
        return Reply(
            200, {"success": True, "message": "If an account exists for that email, a reset link has been sent."}
        )

    async def manuscripts(self, req: Req) -> Reply:
        """GET /manuscripts: 401 without a valid bearer token."""
        forged_ok = user_faults.any_bearer_accepted(req.fault, req.headers.get("authorization"))
        if req.fault != "auth-open" and not forged_ok:
            scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip() or not self.store.token_valid(token.strip()):
                return Reply(401, UNAUTHORIZED, headers={"www-authenticate": "Bearer"})
        return Reply(200, {"manuscripts": MANUSCRIPTS})

    async def openapi(self, req: Req) -> Reply:
        """GET /openapi.json."""
        return Reply(200, body=self._openapi)

    # ---- pages ----------------------------------------------------------------------------------

    def not_found_page(self) -> Reply:
        """The HTML 404 page (the same for every release)."""
        return Reply(404, body=self.pages.render("not_found", None), media_type=HTML)

    def _page(self, name: str, req: Req) -> Reply:
        body = readiness_faults.page_body(name, req.fault, self.pages.render(name, req.fault))
        body = cold_a11y_faults.page(name, req.fault, body)
        return Reply(200, body=body, media_type=HTML)

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
