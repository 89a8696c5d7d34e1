"""The properties every response to a fuzzed request must hold (pure functions of one exchange)."""

from __future__ import annotations

from dataclasses import dataclass

from synthgate.bounded import loads_json
from synthgate.checks.security import body_leaks, is_json_media_type
from synthgate.http import Exchange
from synthgate.profile.fuzz import FuzzConfig, FuzzEndpoint

# Answers proxies and servers give before the application sees the request: their bodies are not the app's.
INFRASTRUCTURE_STATUSES = frozenset({413, 414, 429, 431})
THROTTLED = 429  # the target rate-limited us: no verdict on the input, counted and reported


@dataclass(frozen=True)
class Expectations:
    """What an endpoint's answers must look like."""

    success: frozenset[int]  # the answers valid input may get
    invalid: frozenset[int] | None  # the answers invalid input may get; None: any 4xx but 404 and 405
    error_content_type: str
    error_fields: tuple[str, ...]
    latency_ms: float
    not_found_ok: bool = False  # 404 is one of the declared answers (e.g. an unknown id)

    @classmethod
    def of(cls, endpoint: FuzzEndpoint, config: FuzzConfig, latency_ms: float) -> Expectations:
        """The expectations a declared endpoint sets, with the fuzz section's defaults."""
        success = frozenset(endpoint.success)
        invalid = frozenset(endpoint.invalid) if endpoint.invalid is not None else None
        return cls(
            success=success,
            invalid=invalid,
            error_content_type=endpoint.error_content_type or config.error_content_type,
            error_fields=tuple(endpoint.error_fields if endpoint.error_fields is not None else config.error_fields),
            latency_ms=latency_ms,
            not_found_ok=404 in success or (invalid is not None and 404 in invalid),
        )

    def rejects(self, status: int, path_mutated: bool = False) -> bool:
        """Whether `status` is a proper rejection of invalid input."""
        if self.invalid is not None:
            return status in self.invalid or (path_mutated and status == 404)
        if not 400 <= status < 500:
            return False
        return status not in (404, 405) or (status == 404 and (self.not_found_ok or path_mutated))


@dataclass(frozen=True)
class Violation:
    """One broken property: its name and what was seen."""

    prop: str
    detail: str

    def __str__(self) -> str:
        return f"{self.prop}: {self.detail}"


def violations(exp: Expectations, kind: str, ex: Exchange, path_mutated: bool = False) -> list[Violation]:
    """Every property the exchange breaks, for input of `kind` (valid, invalid or edge)."""
    r = ex.response
    if r is None:
        return [Violation("answers", ex.error or "no response")]
    status = r.status_code
    out: list[Violation] = []
    if status >= 500:
        out.append(Violation("never-5xx", f"answered {status}"))
    elif status == 404 and not (exp.not_found_ok or path_mutated):
        out.append(Violation("never-404-on-declared-route", "answered 404 on a declared route"))
    elif status != THROTTLED:
        allowed = sorted(exp.success)
        if kind == "valid" and status not in exp.success:
            out.append(Violation("valid-input-accepted",
                                 f"answered {status} to valid input, expected one of {allowed}"))
        elif kind == "invalid" and not exp.rejects(status, path_mutated):
            expected = sorted(exp.invalid) if exp.invalid is not None else "a 4xx other than 404/405"
            out.append(Violation("invalid-input-rejected", f"answered {status} to invalid input, expected {expected}"))
        elif kind == "edge" and status not in exp.success and not exp.rejects(status, path_mutated):
            out.append(Violation("input-handled", f"answered {status}, expected one of {allowed} or a rejection"))
    if 400 <= status < 500 and status not in INFRASTRUCTURE_STATUSES and ex.method != "HEAD":
        problem = error_body_problem(ex, exp.error_content_type, exp.error_fields)
        if problem:
            out.append(Violation("json-error-body", problem))
    for leak in body_leaks(r.text, r.headers.get("content-type", "")):
        out.append(Violation("no-leaks", leak))
    if ex.duration_ms > exp.latency_ms:
        out.append(Violation("latency", f"took {ex.duration_ms:.0f} ms, over the {exp.latency_ms:.0f} ms bound"))
    return out


def error_body_problem(ex: Exchange, content_type: str, fields: tuple[str, ...]) -> str | None:
    """Why a 4xx body is not a proper error body of the declared content type, or None."""
    r = ex.response
    assert r is not None
    got = r.headers.get("content-type", "").split(";")[0].strip().lower()
    wanted = content_type.split(";")[0].strip().lower()
    if got != wanted and not (wanted == "application/json" and is_json_media_type(got)):  # +json is JSON
        return f"{r.status_code} error body is {got or 'untyped'}, expected {content_type}"
    if "json" not in got:
        return None
    try:
        data = loads_json(r.content)
    except ValueError:
        return f"{r.status_code} error body is not valid JSON: {r.text[:80]!r}"
    if fields:
        if not isinstance(data, dict):
            return f"{r.status_code} error body is not a JSON object"
        missing = [f for f in fields if f not in data]
        if missing:
            return f"{r.status_code} error body lacks {', '.join(missing)}"
    return None
