"""Log in once per gate (the profile's `auth:` section) and share the session with every stage process.

The gate runs the login steps (or the OAuth2 client-credentials grant) in its own process, registers every value
it saved as a secret, and writes the session to a private file (0600, under the reports' `.work/`) whose path the
stage processes find in the run context (synthgate.run_context). Requests use `${auth.NAME}` (a saved value),
`${auth.cookies}` (a Cookie header of the login's cookies) or `${auth.cookie_NAME}`; journeys start with the
login's cookies as browser storage state. A request that used `${auth.…}` and got a 401 logs in again, once per
process, and is sent again.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from synthgate import http, run_context
from synthgate.bounded import response_json
from synthgate.checks.expect import check_response, save_values
from synthgate.checks.outcome import Attempted, Outcome, result_of, run_with_retries
from synthgate.http import TemplateError, expand, make_client, send, send_raw
from synthgate.profile.model import Expect, Profile
from synthgate.results import CheckResult, StageResult
from synthgate.session import (  # re-exported: the session's readers (journeys, the transport) use these names
    Session,
    browser_state,
    current,
    state,
    uses_auth,
    value,
)

__all__ = ["Session", "browser_state", "current", "end", "gate_login", "listen", "login", "login_result", "relogin",
           "start", "uses_auth", "value"]

CHECK_ID = "auth.login"


def login(profile: Profile, base_url: str) -> tuple[Session | None, Attempted]:
    """Run the profile's login once (retried on transport failures only); the session, or None when it failed."""
    holder: dict[str, Session] = {}

    def attempt() -> Any:
        outcome, session = _login_once(profile, base_url)
        if session is not None:
            holder["session"] = session
        return outcome

    tried = run_with_retries(attempt, profile.defaults.retries, profile.defaults.backoff_s)
    session = holder.get("session") if tried.final.ok else None
    if session is not None:
        session.register_secrets()
    return session, tried


def _login_once(profile: Profile, base_url: str) -> tuple[Any, Session | None]:
    cfg = profile.auth
    assert cfg is not None
    saved: dict[str, Any] = {}
    exchanges = []
    if cfg.basic is not None:
        try:
            return Outcome(ok=True, message="basic auth"), basic_session(profile)
        except TemplateError as exc:
            return Outcome(ok=False, message=f"profile error in auth.basic: {exc}", kind="error"), None
    try:
        with make_client(profile) as client:
            if cfg.oauth2 is not None:
                ex = send_raw(client, "POST", _url(base_url, cfg.oauth2.token_url),
                              {"Content-Type": "application/x-www-form-urlencoded"}, _token_form(profile))
                exchanges.append(ex)
                failures = check_response(ex, _oauth_expect(), None) + save_values(ex, {"access_token": "access_token"},
                                                                              saved)
                if ex.response is not None and not failures:
                    with_type = response_json(ex.response)
                    for key in ("token_type", "expires_in", "refresh_token"):
                        if key in with_type:
                            saved[key] = with_type[key]
                    saved["token"] = saved["access_token"]
            else:
                failures = []
                for n, step in enumerate(cfg.steps, 1):
                    ex = send(client, base_url, profile, step.request, saved)
                    exchanges.append(ex)
                    failures = check_response(ex, step.expect, None) + save_values(ex, step.save, saved)
                    if failures:
                        failures[0] = f"login step {n} ({step.request.method} {step.request.path}): {failures[0]}"
                        break
            cookies = [{"name": c.name, "value": c.value or "", "domain": c.domain, "path": c.path}
                       for c in client.cookies.jar]
    except TemplateError as exc:
        return Outcome(ok=False, message=f"profile error in auth: {exc}", kind="error"), None
    last = exchanges[-1] if exchanges else None
    kind = "assertion" if last is not None and last.response is not None else (
        last.error_kind if last is not None and last.error_kind else "error")
    outcome = Outcome.from_failures(failures, exchanges, kind)
    if failures:
        return outcome, None
    return outcome, Session(values={k: str(v) for k, v in saved.items()}, cookies=cookies)


def basic_session(profile: Profile) -> Session:
    """Basic auth needs no request: ${auth.authorization} is `Basic base64(username:password)`."""
    cfg = profile.auth.basic  # type: ignore[union-attr]
    assert cfg is not None
    username, password = str(expand(cfg.username, profile)), str(expand(cfg.password, profile))
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    # only the encoded values: a short username learned as a secret would blank it out of every report
    return Session(values={"authorization": f"Basic {token}", "basic_token": token})


def _url(base_url: str, url: str) -> str:
    return url if url.startswith(("http://", "https://")) else base_url.rstrip("/") + url


def _token_form(profile: Profile) -> bytes:
    cfg = profile.auth.oauth2  # type: ignore[union-attr]
    assert cfg is not None
    form = {"grant_type": "client_credentials", "client_id": expand(cfg.client_id, profile),
            "client_secret": expand(cfg.client_secret, profile)}
    if cfg.scope:
        form["scope"] = cfg.scope
    if cfg.audience:
        form["audience"] = cfg.audience
    form.update(expand(dict(cfg.extra), profile))
    return urlencode(form).encode()


def _oauth_expect() -> Any:
    return Expect(status=[200], json_types={"access_token": "string"})


def relogin(profile: Profile, base_url: str) -> bool:
    """Log in again after a 401 (once per run); True when a fresh session is in place."""
    if profile.auth is None or not profile.auth.relogin_on_401:
        return False
    own = state()
    with own.lock:
        if own.relogged:
            return False
        own.relogged = True
    session, _ = login(profile, base_url)
    if session is None:
        return False
    with own.lock:
        own.session = session
    return True


def start(profile: Profile, base_url: str, work_dir: Path) -> tuple[Session | None, Attempted | None]:
    """Log in and share the session file with the stage processes (nothing to do without `auth:`).

    A new login replaces the previous session at once (probes log in again each round while checks run), so no
    request ever sees no session in between.
    """
    if profile.auth is None:
        end()
        return None, None
    listen()  # the run that logs in logs in again when a request's session expired
    session, tried = login(profile, base_url)
    if session is None:
        return None, tried
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir.resolve() / "auth-session.json"
    fresh = path.with_name(f".auth-session-{os.getpid()}-{threading.get_ident()}.json")
    fresh.unlink(missing_ok=True)
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the tokens: readable by this user only
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"values": session.values, "cookies": session.cookies}, handle)
    os.replace(fresh, path)
    own = state()
    with own.lock:
        own.session, own.loaded_from, own.relogged = session, str(path), False
    run_context.update(auth_session=str(path))
    return session, tried


def end() -> None:
    """Forget the session and delete its file (the gate's end, or before the next login)."""
    path = run_context.current().auth_session
    if path:
        run_context.update(auth_session=None)
    own = state()
    with own.lock:
        own.session, own.loaded_from, own.relogged = None, None, False
    if path:
        Path(path).unlink(missing_ok=True)


def gate_login(profile: Profile, base_url: str, reports_dir: Path, progress: Any) -> Any:
    """The gate's login: None when it succeeded (or there is no `auth:`), else a failed `auth` stage (fail fast)."""
    session, tried = start(profile, base_url, reports_dir / ".work")
    if tried is None:
        return None
    if session is not None:
        progress(f"auth: logged in ({', '.join(sorted(session.values)) or 'cookies only'} saved)")
        return None
    check = login_result(tried)
    progress(f"  FAIL {check.id}  {check.message[:160]}")
    return StageResult.from_checks("auth", [check], tried.duration_ms / 1000)


def login_result(tried: Attempted) -> CheckResult:
    """The login's attempts as the check `auth.login` (the gate's fail-fast stage, the probe's job)."""
    return result_of(CHECK_ID, tried, failure_prefix="login failed: ")


def _relogin_on_401(event: http.Unauthorized) -> None:
    """A declared request that used ${auth.…} got a 401: log in again (once per run) and have it resent."""
    if uses_auth(event.request) and relogin(event.profile, event.base_url):
        event.retry = True


def listen() -> None:
    """Subscribe the re-login to the current run's 401s (idempotent; the gate and each stage process do)."""
    http.events().subscribe(http.Unauthorized, _relogin_on_401)
