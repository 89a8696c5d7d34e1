"""One HTTP client factory and request helper: timeouts, the synthetic-traffic header, curl repros.

The transport knows nothing of what listens to it: every completed exchange is published as an `Exchanged` event
and every 401 to a declared request as an `Unauthorized` event on `events`; the 5xx tally
(synthgate.server_errors), the cold-start ledger (synthgate.checks.cold) and the re-login (synthgate.auth)
subscribe. Secret learning (headers, URLs, Set-Cookie) stays inline: a secret must never depend on a listener
being registered.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shlex
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from synthgate import run_state, session
from synthgate.bounded import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_BODY_BYTES,
    BoundExceeded,
    SocketWatchdog,
    headers_late_message,
    read_body,
)
from synthgate.profile.model import Profile, Request
from synthgate.redact import SENSITIVE_HEADERS, redactor

USER_AGENT = "synthgate/0.1 (synthetic check)"
_TEMPLATE = re.compile(r"\$\{(secrets|vars|env|saved|auth)\.([A-Za-z0-9_]+)\}")


class TemplateError(ValueError):
    """A ${...} reference that cannot be resolved."""


@dataclass(frozen=True)
class TemplateValues:
    """What `${auth.X}`, `${secrets.X}` and `${env.X}` resolve against, handed to `expand` by its caller."""

    auth: Callable[[str], str | None]  # ${auth.NAME}: the run's login session
    environ: Mapping[str, str]  # ${env.X} and the variables ${secrets.X} name
    learn: Callable[[str, str], None]  # a secret read from the environment is redacted from then on


def run_values() -> TemplateValues:
    """The current run's values: its auth session, this process's environment, the redactor."""
    return TemplateValues(auth=session.value, environ=os.environ, learn=redactor.add)


def expand(value: Any, profile: Profile, saved: dict[str, Any] | None = None,
           values: TemplateValues | None = None) -> Any:
    """Resolve $var (whole value) and ${vars.X} / ${secrets.X} / ${env.X} / ${saved.X} in strings, recursively.

    `saved` holds values an earlier step of the same check saved from its response; `values` what the other
    scopes resolve against (default: the current run's, `run_values()`).
    """
    values = values or run_values()
    if isinstance(value, str):
        if value.startswith("$") and not value.startswith("${") and value[1:] in profile.vars:
            return expand(profile.vars[value[1:]], profile, saved, values)

        def one(m: re.Match[str]) -> str:
            scope, name = m.group(1), m.group(2)
            if scope == "auth":  # the session the `auth:` section logged in once per gate
                found = values.auth(name)
                if found is None:
                    raise TemplateError(f"${{auth.{name}}} is not set: the profile's auth: section saved no {name}")
                return found
            if scope == "saved":
                if not saved or name not in saved:
                    raise TemplateError(f"${{saved.{name}}} was not saved by an earlier step")
                return str(saved[name])
            if scope == "vars":
                if name not in profile.vars:
                    raise TemplateError(f"unknown variable ${{vars.{name}}}")
                return str(profile.vars[name])
            env_name = name if scope == "env" else _secret_env(profile, name)
            secret = values.environ.get(env_name)
            if secret is None:
                raise TemplateError(f"environment variable {env_name} is not set (needed for ${{{scope}.{name}}})")
            values.learn(secret, env_name)
            return secret

        return _TEMPLATE.sub(one, value)
    if isinstance(value, dict):
        return {k: expand(v, profile, saved, values) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, profile, saved, values) for v in value]
    return value


def _secret_env(profile: Profile, name: str) -> str:
    ref = profile.secrets.get(name)
    if ref is None:
        raise TemplateError(f"unknown secret ${{secrets.{name}}} (declare it under 'secrets:')")
    return ref.env


@functools.cache
def _ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """One SSL context per process: building one loads the CA bundle (~20-70 ms of CPU), once per client otherwise."""
    context = httpx.create_ssl_context()  # what httpx.Client() would build: certifi, or SSL_CERT_FILE/SSL_CERT_DIR
    if ca_bundle:  # the profile's tls.ca_bundle (or the embedded target's CA): trusted besides the usual roots
        context.load_verify_locations(cafile=ca_bundle)
    return context


def make_client(profile: Profile, timeout_s: float | None = None, follow_redirects: bool = True) -> httpx.Client:
    """A client with the profile's timeout and synthetic-traffic headers; no transport-level retries."""
    timeout = timeout_s or profile.defaults.timeout_s
    headers = {"User-Agent": USER_AGENT, **expand(profile.headers, profile)}
    return BoundedClient(
        deadline_s=timeout,
        max_body_bytes=profile.defaults.max_body_bytes,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers=headers,
        follow_redirects=follow_redirects,
        # shared: per-check clients cost 20x less CPU (benchmarks/RESULTS-probe.md)
        verify=_ssl_context(profile.tls.ca_bundle_path()),
        follow_hosts=frozenset(h.lower() for h in profile.links.follow_hosts),
    )


class BoundedClient(httpx.Client):
    """An httpx client whose responses `send_raw` reads within one deadline and a decoded-size cap."""

    def __init__(self, *, deadline_s: float, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 follow_hosts: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        headers = {"Accept-Encoding": ACCEPT_ENCODING, **(kwargs.pop("headers", None) or {})}
        super().__init__(headers=headers, **kwargs)
        self.follow_hosts = follow_hosts  # hosts (or host:port) besides the target that redirects may go to
        self.deadline_s = deadline_s
        self.max_body_bytes = max_body_bytes


@dataclass
class Exchange:
    """One request and what came back (a response, or the transport error)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    response: httpx.Response | None = None
    error: str | None = None
    error_kind: str | None = None  # "unreachable" when no answer could be had at all, else "error"
    answered_status: int | None = None  # the status of an answer rejected for a bound (too slow, too large)
    duration_ms: float = 0.0
    cold: bool = False  # the run's first request to this endpoint (set by the cold-start ledger, a listener)

    @property
    def status(self) -> int | None:
        """The response status, if any."""
        return self.response.status_code if self.response is not None else None

    def curl(self) -> str:
        """A runnable curl command reproducing this request; secrets appear as $ENV references."""
        return to_curl(self.method, self.url, self.headers, self.body)

    def describe(self, limit: int = 2000) -> str:
        """Request and response as text, for attachments (redacted)."""
        lines = [f"{self.method} {self.url}"]
        lines += [f"{k}: {v}" for k, v in redactor.headers(self.headers.items())]
        if self.body:
            lines += ["", self.body[:limit].decode("utf-8", "replace")]
        lines.append("")
        if self.response is None:
            lines.append(f"-> no response: {self.error}")
        else:
            r = self.response
            lines.append(f"-> {r.status_code} {r.reason_phrase} ({self.duration_ms:.1f} ms)")
            lines += [f"{k}: {v}" for k, v in redactor.headers(r.headers.items())]
            lines += ["", r.text[:limit]]
        return redactor("\n".join(lines))


@dataclass(frozen=True)
class Exchanged:
    """Published after every request `send_raw` completes, answered or not."""

    exchange: Exchange


@dataclass
class Unauthorized:
    """Published when a declared request got a 401; a listener that logged in again sets `retry` to resend it."""

    profile: Profile
    base_url: str
    request: Request
    retry: bool = False


Event = TypeVar("Event", Exchanged, Unauthorized)


class Events:
    """Listeners of the transport's events, by event type (one set per run: see `events`)."""

    def __init__(self) -> None:
        self._listeners: dict[type, list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[Event], listener: Callable[[Event], None]) -> None:
        """Call `listener` with every event of type `kind`; subscribing the same listener twice has no effect."""
        listeners = self._listeners.setdefault(kind, [])
        if listener not in listeners:
            listeners.append(listener)

    def unsubscribe(self, kind: type[Event], listener: Callable[[Event], None]) -> None:
        """Stop calling `listener` (no effect when it was not subscribed)."""
        listeners = self._listeners.get(kind, [])
        if listener in listeners:
            listeners.remove(listener)

    @contextlib.contextmanager
    def subscribed(self, kind: type[Event], listener: Callable[[Event], None]) -> Iterator[None]:
        """Call `listener` with every event of type `kind` while the block runs."""
        self.subscribe(kind, listener)
        try:
            yield
        finally:
            self.unsubscribe(kind, listener)

    def publish(self, event: Event) -> Event:
        """Hand `event` to every listener of its type, in subscription order; the event, as they left it."""
        for listener in list(self._listeners.get(type(event), ())):
            listener(event)
        return event


EVENTS = run_state.Slot("transport events", Events)


def events() -> Events:
    """The current run's transport events: listeners subscribe for a run, so two runs never see each other's."""
    return run_state.current().get(EVENTS)


def classify(exc: Exception) -> tuple[str, str]:
    """(kind, message) for a transport error: 'unreachable' only when the target gave no answer at all."""
    text = str(exc) or exc.__class__.__name__
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "unreachable", f"unreachable: name resolution failed ({text})"
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return "error", f"connection refused: the target host answered but nothing listens ({text})"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return "unreachable", f"unreachable: no TCP connection within the timeout ({text})"
    if isinstance(exc, httpx.ConnectError):
        low = text.lower()
        if "name or service not known" in low or "name resolution" in low or "nodename" in low:
            return "unreachable", f"unreachable: name resolution failed ({text})"
        if "refused" in low:
            return "error", f"connection refused ({text})"
        if "ssl" in low or "certificate" in low:
            return "error", f"TLS error ({text})"
        return "unreachable", f"unreachable: cannot connect ({text})"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return "error", f"timeout after connecting: no response in time ({exc.__class__.__name__})"
    return "error", f"{exc.__class__.__name__}: {text}"


def send(client: httpx.Client, base_url: str, profile: Profile, request: Request,
         saved: dict[str, Any] | None = None, values: TemplateValues | None = None) -> Exchange:
    """Send one declared request (templates expanded against `values`, default the run's) and capture the
    exchange; never raises on transport."""
    values = values or run_values()
    headers = {str(k): str(v) for k, v in expand(request.headers, profile, saved, values).items()}
    body: bytes | None = None
    if request.body is not None:
        body = str(expand(request.body, profile, saved, values)).encode()
    elif request.json_body is not None:
        body = json.dumps(expand(request.json_body, profile, saved, values), ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    url = base_url.rstrip("/") + str(expand(request.path, profile, saved, values))
    params = expand(request.params, profile, saved, values)
    ex = send_raw(client, request.method, url, headers, body, params=params,
                  follow_redirects=request.follow_redirects)
    if ex.status == 401:
        unauthorized = events().publish(Unauthorized(profile, base_url, request))
        if unauthorized.retry:
            # the session expired: once more, logged in again
            return send(client, base_url, profile, request, saved, values)
    return ex


def send_raw(
    client: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    params: dict[str, str] | None = None,
    follow_redirects: bool = True,
    learn_headers: bool = True,
) -> Exchange:
    """Send one request and capture the exchange; never raises on transport errors.

    `learn_headers=False` for generated headers (the fuzzer's): a fuzzed `Authorization: false` is no secret,
    and learning it would redact every `false` in the reports."""
    merged = {**dict(client.headers), **(headers or {})}
    if params:
        url = str(httpx.URL(url, params=params))
    ex = Exchange(method=method, url=url, headers=merged, body=body)
    for name, value in merged.items():
        if learn_headers and name.lower() in SENSITIVE_HEADERS:
            redactor.add_header(name, value)
    redactor.add_url(url)
    start = time.perf_counter()
    deadline_s = getattr(client, "deadline_s", None) or float(client.timeout.read or 30.0)
    max_bytes = getattr(client, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    watchdog = SocketWatchdog(deadline_s)
    try:
        ex.response = _exchange(client, method, url, headers, body, follow_redirects, watchdog, deadline_s,
                                max_bytes)
    except BoundExceeded as exc:
        ex.error_kind, ex.error, ex.answered_status = "error", str(exc), exc.status
    except (httpx.HTTPError, OSError) as exc:
        if watchdog.fired:
            ex.error_kind, ex.error = "error", headers_late_message(deadline_s)
        elif isinstance(exc, httpx.ReadTimeout):
            # the socket's read timeout: the same bound as the watchdog's in make_client's clients (a late body is
            # BoundExceeded), so whichever fires first on a loaded machine, the message is the same
            ex.error_kind, ex.error = "error", headers_late_message(float(client.timeout.read or deadline_s))
        else:
            ex.error_kind, ex.error = classify(exc)
    finally:
        watchdog.cancel()
    ex.duration_ms = (time.perf_counter() - start) * 1000
    events().publish(Exchanged(ex))  # the 5xx budget counts it; the cold ledger may keep it as a first contact
    return ex


def _exchange(client: httpx.Client, method: str, url: str, headers: dict[str, str] | None, body: bytes | None,
              follow_redirects: bool, watchdog: SocketWatchdog, deadline_s: float, max_bytes: int) -> httpx.Response:
    """Send, follow redirects ourselves (httpx would read each redirect's body unbounded), read bounded."""
    started = time.monotonic()
    request = client.build_request(method, url, headers=headers, content=body,
                                   extensions={"trace": watchdog.trace})
    history: list[httpx.Response] = []
    while True:
        response = client.send(request, stream=True, follow_redirects=False)
        _learn(response)
        if not (follow_redirects and response.next_request is not None):
            break
        if not may_follow(client, url, str(response.next_request.url)):
            break  # traffic stays on the target: a redirect elsewhere is the answer, never followed
        response.close()  # a redirect's body is never read
        history.append(response)
        if len(history) > client.max_redirects:
            raise httpx.TooManyRedirects(f"more than {client.max_redirects} redirects (last to "
                                         f"{response.headers.get('location', '?')})", request=request)
        request = response.next_request
        redactor.add_url(str(request.url))
    response.history = history
    read_body(response, started, deadline_s, max_bytes, watchdog)
    return response


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(
        parts.scheme.lower())


def may_follow(client: httpx.Client, first_url: str, next_url: str) -> bool:
    """A redirect is followed only to the origin the request went to, or to a host the profile names."""
    target, first = origin_of(next_url), origin_of(first_url)
    if target == first or (target[1] == first[1] and (first[0], target[0]) == ("http", "https")):
        return True  # the target itself, or its upgrade to https
    hosts = getattr(client, "follow_hosts", ())
    return target[1] in hosts or f"{target[1]}:{target[2]}" in hosts


def _learn(response: httpx.Response) -> None:
    """Every Set-Cookie value the target hands out is a secret from now on."""
    for header in response.headers.get_list("set-cookie"):
        redactor.add_set_cookie(header)


def to_curl(method: str, url: str, headers: dict[str, str], body: bytes | None) -> str:
    """A curl command line; secret values are written as "$ENV" so the command runs where the env is set."""
    parts = ["curl", "-sS", "-i", "--max-time", "30", "-X", method, _quote_with_secrets(url)]
    skip = {"host", "content-length", "accept-encoding", "connection", "accept", "user-agent"}
    for name, value in headers.items():
        if name.lower() in skip:
            continue
        parts += ["-H", _quote_with_secrets(f"{name}: {value}")]
    if body is not None:
        parts += ["--data-binary", _quote_with_secrets(body.decode("utf-8", "replace"))]
    return " ".join(parts)


def _quote_with_secrets(text: str) -> str:
    """Shell-quote text, turning every occurrence of every registered secret into a "$ENV" expansion."""
    pattern = redactor.pattern(text)
    if pattern is None:
        return redactor(shlex.quote(text))
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        if match.start() > last:
            out.append(shlex.quote(text[last:match.start()]))
        out.append(f'"${redactor.name_of(match.group(0))}"')
        last = match.end()
    if last < len(text) or not out:
        out.append(shlex.quote(text[last:]))
    return redactor("".join(out))
