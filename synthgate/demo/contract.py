"""The demo target's contract, declared once: its routes, request fields, limits and error answers.

The router (routes.py) serves exactly the API operations declared here, the validators (validation.py) check the
fields and limits declared here, and /openapi.json (openapi.py) is built from the same declarations, so the
served document and the server's behaviour cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEMO_EMAIL = "demo@synthgate.dev"
DEMO_PASSWORD = "demo-password"  # a public demo credential, not a secret
SESSION_COOKIE = "coldcopy_session"
SESSION_ID_RE = re.compile(r"[0-9a-f]{32}")
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
PASSWORD_RESET_FIELDS: dict[str, tuple[int, int]] = {"email": (1, EMAIL_MAX)}

# Error answers' bodies (the `Error` schema: `error`, and sometimes `success: false` or a `message`).
NOT_FOUND: dict[str, Any] = {"success": False, "error": "not_found"}
METHOD_NOT_ALLOWED: dict[str, Any] = {"error": "method_not_allowed"}
INTERNAL_ERROR: dict[str, Any] = {"error": "internal_error"}
UNAUTHORIZED: dict[str, Any] = {"error": "unauthorized"}
INVALID_CREDENTIALS: dict[str, Any] = {"error": "invalid_credentials"}
RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"


@dataclass(frozen=True)
class RequestBody:
    """A JSON object body: required strings with (min, max) lengths, some of them emails, and enum choices."""

    schema: str  # its name under components/schemas
    strings: dict[str, tuple[int, int]]
    emails: tuple[str, ...] = ()  # string fields that must also match EMAIL_PATTERN
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    failure: dict[str, Any] = field(default_factory=dict)  # merged into every 400 answer's body

    @property
    def names(self) -> list[str]:
        """Every field, in the order the validator checks them."""
        return [*self.strings, *self.choices]


@dataclass(frozen=True)
class Response:
    """One declared answer of an operation."""

    status: int
    description: str
    schema: str
    links: dict[str, Any] | None = None


@dataclass(frozen=True)
class Operation:
    """One API route: method, path (with `{name}` parameters), the body it takes and the answers it declares.

    Every operation also answers 405 (another method) and, when it takes a body, 400 (the body is not valid).
    """

    method: str
    path: str
    operation_id: str
    responses: tuple[Response, ...]
    body: RequestBody | None = None
    bearer: bool = False  # needs `Authorization: Bearer <token>`

    @property
    def parameters(self) -> list[str]:
        """The path's `{name}` parameters."""
        return re.findall(r"{(\w+)}", self.path)


INTAKE = RequestBody("IntakeRequest", INTAKE_FIELDS, emails=("user_email",), failure={"success": False})
GENERATE = RequestBody("GenerateRequest", GENERATE_FIELDS, choices={"tone": TONES})
LOGIN = RequestBody("LoginRequest", LOGIN_FIELDS)
PASSWORD_RESET = RequestBody("PasswordResetRequest", PASSWORD_RESET_FIELDS, emails=("email",))

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/v1/health", "health", (Response(200, "healthy", "Health"),)),
    Operation("POST", "/api/intake", "createIntake", (
        Response(200, "campaign created", "IntakeCreated", links={
            "GetCampaign": {"operationId": "getCampaign", "parameters": {"id": "$response.body#/campaign_id"}},
        }),
    ), body=INTAKE),
    Operation("GET", "/api/campaign/{id}", "getCampaign",
              (Response(200, "the campaign", "CampaignResponse"), Response(404, "error", "Error"))),
    Operation("POST", "/api/generate", "generate", (
        Response(200, "a generated sequence", "GenerateResponse"),
        Response(402, "the free generation is spent", "Error"),
    ), body=GENERATE),
    Operation("GET", "/api/session", "getSession", (Response(200, "the session's quota", "Session"),)),
    Operation("POST", "/auth/login", "login", (
        Response(200, "logged in", "Token"),
        Response(401, "invalid credentials", "Error"),
    ), body=LOGIN),
    Operation("POST", "/auth/password-reset-request", "requestPasswordReset", (
        Response(200, "same answer whether or not the account exists", "Message"),
    ), body=PASSWORD_RESET),
    Operation("GET", "/manuscripts", "listManuscripts", (
        Response(200, "the manuscripts", "Manuscripts"),
        Response(401, "missing or invalid token", "Error"),
    ), bearer=True),
)
BAD_REQUEST = Response(400, "error", "Error")
NOT_ALLOWED = Response(405, "method not allowed", "Error")

OPENAPI_PATH = "/openapi.json"
PAGE_PATHS = ("/", "/intake", "/intake.html", "/dashboard")  # HTML, outside the OpenAPI document
# Paths under these prefixes answer JSON errors (and get CORS headers); every other unknown path an HTML 404.
API_PREFIXES = ("/api/", "/auth/", "/v1/")


def path_regex(template: str) -> re.Pattern[str]:
    """The regex a templated path matches: each `{name}` is one non-empty segment, captured by name."""
    parts = re.split(r"{(\w+)}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts)))


def is_api(path: str) -> bool:
    """Whether `path` belongs to the JSON API (JSON errors, CORS), not to the pages."""
    return path.startswith(API_PREFIXES) or any(path == op.path for op in OPERATIONS)
