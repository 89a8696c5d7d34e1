"""The auth session a gate's login left (values and cookies), as every process of the run reads it.

The login itself (synthgate.auth) runs requests; this module only holds and reads its result, so the transport
can expand `${auth.NAME}` without knowing how a login is made.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgate import run_context, run_state
from synthgate.redact import redactor

if TYPE_CHECKING:
    from synthgate.profile.model import Request

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


@dataclass
class SessionState:
    """A run's session: the one logged in (or loaded from the run context's file), and whether it re-logged."""

    session: Session | None = None
    loaded_from: str | None = None  # the session file it was read from
    relogged: bool = False  # a 401 made it log in again (once per run)
    lock: threading.Lock = field(default_factory=threading.Lock)


STATE = run_state.Slot("auth session", SessionState)


def state() -> SessionState:
    """The current run's session state (synthgate.run_state)."""
    return run_state.current().get(STATE)


def current() -> Session | None:
    """This run's session: the one logged in here, else the one the gate shared through the run context."""
    own = state()
    with own.lock:
        path = run_context.current().auth_session
        if own.session is None and path and own.loaded_from != path:
            own.loaded_from = path
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
                own.session = Session(values={k: str(v) for k, v in data.get("values", {}).items()},
                                      cookies=list(data.get("cookies", [])))
            except (OSError, ValueError):
                own.session = None
        return own.session


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
