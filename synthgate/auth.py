"""Log in once per gate (the profile's `auth:` section) and share the session with every stage process.

The gate runs the login steps (or the OAuth2 client-credentials grant) in its own process, registers every value
it saved as a secret, and writes the session to a private file (0600, under the reports' `.work/`) whose path the
stage processes inherit through `SYNTHGATE_AUTH_SESSION`. Requests use `${auth.NAME}` (a saved value),
`${auth.cookies}` (a Cookie header of the login's cookies) or `${auth.cookie_NAME}`; journeys start with the
login's cookies as browser storage state. A request that used `${auth.…}` and got a 401 logs in again, once per
process, and is sent again.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgate.redact import redactor

if TYPE_CHECKING:
    from synthgate.checks.outcome import Attempted
    from synthgate.profile.model import Profile, Request

SESSION_ENV = "SYNTHGATE_AUTH_SESSION"
CHECK_ID = "auth.login"
_USES_AUTH = re.compile(r"\$\{auth\.")


@dataclass
class Session:
    """What the login left: saved values and cookies."""

    values: dict[str, str] = field(default_factory=dict)
    cookies: list[dict[str, str]] = field(default_factory=list)  # name, value, domain, path

    def lookup(self, name: str) -> str | None:
        """${auth.NAME}: a saved value, `cookies` (a Cookie header) or `cookie_<name>`."""
        if name in self.values:
            return self.values[name]
        if name == "cookies":
            return "; ".join(f"{c['name']}={c['value']}" for c in self.cookies) if self.cookies else None
        if name.startswith("cookie_"):
            return next((c["value"] for c in self.cookies if c["name"] == name[len("cookie_"):]), None)
        return None

    def register_secrets(self) -> None:
        """Every saved value and cookie is a secret from now on, in this process and in the stage processes."""
        for name, value in self.values.items():
            redactor.learn(value, f"auth.{name}")
        for cookie in self.cookies:
            redactor.learn(cookie["value"], f"auth.cookie.{cookie['name']}")


_lock = threading.Lock()
_state: dict[str, Any] = {"session": None, "loaded_from": None, "relogged": False}


def current() -> Session | None:
    """This process's session: the one logged in here, else the one the gate shared through the environment."""
    with _lock:
        path = os.environ.get(SESSION_ENV)
        if _state["session"] is None and path and _state["loaded_from"] != path:
            _state["loaded_from"] = path
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
                _state["session"] = Session(values={k: str(v) for k, v in data.get("values", {}).items()},
                                            cookies=list(data.get("cookies", [])))
            except (OSError, ValueError):
                _state["session"] = None
        return _state["session"]


def value(name: str) -> str | None:
    """The value of ${auth.NAME}, or None when there is no session or no such value."""
    session = current()
    return session.lookup(name) if session is not None else None


def uses_auth(request: Request) -> bool:
    """Whether a declared request refers to the session (so a 401 may mean it expired)."""
    return bool(_USES_AUTH.search(request.model_dump_json()))


def browser_state() -> dict[str, Any] | None:
    """The login's cookies as Playwright storage state, or None."""
    session = current()
    if session is None or not session.cookies:
        return None
    cookies = [{"name": c["name"], "value": c["value"], "domain": c.get("domain") or "", "path": c.get("path") or "/",
                "httpOnly": True, "secure": False, "sameSite": "Lax"} for c in session.cookies if c.get("domain")]
    return {"cookies": cookies, "origins": []}


def login(profile: Profile, base_url: str) -> tuple[Session | None, Attempted]:
    """Run the profile's login once (retried on transport failures only); the session, or None when it failed."""
    from synthgate.checks.outcome import run_with_retries

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
    from synthgate.checks.expect import check_response
    from synthgate.checks.outcome import Outcome
    from synthgate.checks.smoke import _save
    from synthgate.http import TemplateError, make_client, send, send_raw

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
                failures = check_response(ex, _oauth_expect(), None) + _save(ex, {"access_token": "access_token"},
                                                                              saved)
                if ex.response is not None and not failures:
                    with_type = ex.response.json()
                    for key in ("token_type", "expires_in", "refresh_token"):
                        if key in with_type:
                            saved[key] = with_type[key]
                    saved["token"] = saved["access_token"]
            else:
                failures = []
                for n, step in enumerate(cfg.steps, 1):
                    ex = send(client, base_url, profile, step.request, saved)
                    exchanges.append(ex)
                    failures = check_response(ex, step.expect, None) + _save(ex, step.save, saved)
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
    import base64

    from synthgate.http import expand

    cfg = profile.auth.basic  # type: ignore[union-attr]
    assert cfg is not None
    username, password = str(expand(cfg.username, profile)), str(expand(cfg.password, profile))
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    # only the encoded values: a short username learned as a secret would blank it out of every report
    return Session(values={"authorization": f"Basic {token}", "basic_token": token})


def _url(base_url: str, url: str) -> str:
    return url if url.startswith(("http://", "https://")) else base_url.rstrip("/") + url


def _token_form(profile: Profile) -> bytes:
    from urllib.parse import urlencode

    from synthgate.http import expand

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
    from synthgate.profile.model import Expect

    return Expect(status=[200], json_types={"access_token": "string"})


def relogin(profile: Profile, base_url: str) -> bool:
    """Log in again after a 401 (once per process); True when a fresh session is in place."""
    if profile.auth is None or not profile.auth.relogin_on_401:
        return False
    with _lock:
        if _state["relogged"]:
            return False
        _state["relogged"] = True
    session, _ = login(profile, base_url)
    if session is None:
        return False
    with _lock:
        _state["session"] = session
    return True


def start(profile: Profile, base_url: str, work_dir: Path) -> tuple[Session | None, Attempted | None]:
    """Log in and share the session file with the stage processes (nothing to do without `auth:`).

    A new login replaces the previous session at once (probes log in again each round while checks run), so no
    request ever sees no session in between.
    """
    if profile.auth is None:
        end()
        return None, None
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
    with _lock:
        _state.update(session=session, loaded_from=str(path), relogged=False)
    os.environ[SESSION_ENV] = str(path)
    return session, tried


def end() -> None:
    """Forget the session and delete its file (the gate's end, or before the next login)."""
    path = os.environ.pop(SESSION_ENV, None)
    with _lock:
        _state.update(session=None, loaded_from=None, relogged=False)
    if path:
        Path(path).unlink(missing_ok=True)


def gate_login(profile: Profile, base_url: str, reports_dir: Path, progress: Any) -> Any:
    """The gate's login: None when it succeeded (or there is no `auth:`), else a failed `auth` stage (fail fast)."""
    from synthgate.results import CheckResult, StageResult

    session, tried = start(profile, base_url, reports_dir / ".work")
    if tried is None:
        return None
    if session is not None:
        progress(f"auth: logged in ({', '.join(sorted(session.values)) or 'cookies only'} saved)")
        return None
    first = tried.first_failure or tried.final
    check = CheckResult(id=CHECK_ID, status="failed", kind=first.kind or "assertion",  # type: ignore[arg-type]
                        message=redactor(f"login failed: {tried.message}"), attempts=tried.attempts,
                        duration_ms=round(tried.duration_ms, 1), curl=redactor(first.curl) if first.curl else None,
                        attempts_detail=tried.attempts_detail())
    progress(f"  FAIL {check.id}  {check.message[:160]}")
    return StageResult.from_checks("auth", [check], tried.duration_ms / 1000)


def probe_job(profile: Profile, base_url: str, every: float, work_dir: Path) -> Any:
    """For `synthgate probe`: log in now (before the first round), and again every round, as the job `auth.login`."""
    import time

    from synthgate.probe.jobs import MESSAGE_LIMIT, Job
    from synthgate.store import ProbeResult

    def run() -> list[ProbeResult]:
        ts = time.time()
        session, tried = start(profile, base_url, work_dir)
        assert tried is not None
        ok = session is not None
        return [ProbeResult(check_id=CHECK_ID, ts=ts, duration_ms=round(tried.duration_ms, 3),
                            status="passed" if ok else "failed",
                            outcome="up" if ok else ("unknown" if tried.final.kind == "unreachable" else "down"),
                            kind=None if ok else (tried.final.kind or "assertion"), attempts=tried.attempts,
                            message=redactor("ok" if ok else f"login failed: {tried.message}")[:MESSAGE_LIMIT])]

    start(profile, base_url, work_dir)  # the first round's checks need the session before they start
    return Job(id=CHECK_ID, interval=every, run=run)
