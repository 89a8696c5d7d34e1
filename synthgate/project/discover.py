"""`synthgate init --from URL`: look at a live deployment and draft a profile whose gate passes on it today.

Every read is bounded (time per request, bytes per body, number of pages and candidates). Whatever is drafted
is then checked against the deployment with the smoke checks themselves, and what fails is left out with a
note: a draft that fails a healthy deploy would be thrown away, not reviewed.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import yaml

from synthgate.fuzz.openapi import base_path
from synthgate.http import USER_AGENT

TIMEOUT_S = 5.0
MAX_BODY = 2 * 1024 * 1024
MAX_PAGES = 6  # the landing page and up to five pages it links
MAX_ROUTES = 8
MAX_REQUESTS = 150  # every request discovery sends, all kinds together
MAX_SECONDS = 60.0  # discovery as a whole
MAX_REDIRECTS = 5  # followed only while they stay on the target's origin
MAX_OPERATIONS = 8  # OpenAPI GET operations drafted for the read-only fuzz
MAX_AUTH_CHECKS = 4
# health and heartbeat conventions, tried under the root and under each API prefix found
HEALTH_PATHS = ("/__heartbeat__", "/health", "/healthz", "/status", "/ping", "/__lbheartbeat__", "/api/health",
                "/api/healthz", "/api/status")
VERSION_PATHS = ("/__version__", "/-/versions.json", "/version", "/version.json")
OPENAPI_PATHS = ("/openapi.json", "/openapi.yaml", "/swagger.json", "/swagger.yaml", "/__api__", "/api-docs",
                 "/spec.json", "/v3/api-docs", "/docs/openapi.json", "/api/openapi.json", "/openapi")
API_PREFIXES = ("/v1", "/api", "/api/v1")
_HEALTHY = ("ok", "healthy", "up", "pass", "green", "true")
_FETCH = re.compile(r"""fetch\(\s*["'](/[A-Za-z0-9_\-/.]*)["']""")
_ASSET = re.compile(r"\.(css|js|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|pdf|zip|xml|txt|json)$", re.I)
_TIME_KEYS = ("timestamp", "time", "now", "updated_at", "checked_at")


@dataclass
class Answer:
    """One bounded GET/POST: status, content type and (the first MAX_BODY bytes of) the body."""

    status: int
    content_type: str
    text: str
    url: str
    location: str = ""

    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


class PageScan(HTMLParser):
    """What a page offers: title, links, forms and their fields, data-* translations, a language toggle."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.links: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self.lang_attrs: set[str] = set()
        self.toggle: str | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect links, forms, fields and data-<lang> attributes."""
        a = {k: v or "" for k, v in attrs}
        for name in a:
            if re.fullmatch(r"data-[a-z]{2}", name):
                self.lang_attrs.add(name[5:])
        if tag in ("title", "h1"):
            self._in = tag
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").upper(),
                               "id": a.get("id", ""), "fields": []})
        elif (tag in ("input", "textarea", "select") and self.forms and (a.get("name") or a.get("id"))
              and a.get("type") not in ("hidden", "submit", "button")):
            self.forms[-1]["fields"].append(a.get("name") or a.get("id"))
        if tag == "button" and self.toggle is None and a.get("id") and re.search(r"lang", a["id"], re.I):
            self.toggle = f"#{a['id']}"

    def handle_endtag(self, tag: str) -> None:
        """End of a title/h1."""
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        """Text of the title and the first h1."""
        if self._in == "title":
            self.title += data
        elif self._in == "h1" and not self.h1:
            self.h1 += data


@dataclass
class Discovery:
    """What was found, as profile sections, and notes for the reader of the draft."""

    base_url: str
    health: dict[str, Any] | None = None
    pages: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # heartbeat/version and requires-auth checks
    journeys: list[dict[str, Any]] = field(default_factory=list)
    openapi: str | None = None
    openapi_operations: list[str] = field(default_factory=list)  # GET operations the draft fuzzes
    answering: list[str] = field(default_factory=list)  # GET paths that answered 200 (load tasks of last resort)
    external: list[str] = field(default_factory=list)  # links off the target's origin: listed, never fetched
    notes: list[str] = field(default_factory=list)


class Prober:
    """Bounded reads against one deployment: per request (time, bytes), in all (count, time), same origin only."""

    def __init__(self, base_url: str, max_requests: int = MAX_REQUESTS, max_seconds: float = MAX_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=httpx.Timeout(TIMEOUT_S), follow_redirects=False,
                                   headers={"User-Agent": USER_AGENT, "X-Synthetic-Check": "synthgate"})
        self.left = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.cache: dict[tuple[str, str], Answer | None] = {}
        self.external: list[str] = []

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    @property
    def exhausted(self) -> bool:
        """Whether the request count or the time bound is used up."""
        return self.left <= 0 or time.monotonic() > self.deadline

    def same_origin(self, url: str) -> bool:
        """Scheme, host and port of the target."""
        def origin(u: str) -> tuple[str, str, int | None]:
            parts = urlsplit(u)
            return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(
                parts.scheme)
        return origin(url) == origin(self.base_url)

    def get(self, path: str, method: str = "GET", json_body: Any = None) -> Answer | None:
        """One request (redirects followed while on the origin), the body cut at MAX_BODY; None when the target
        gave no answer or a bound was reached."""
        key = (method, path)
        if key in self.cache and json_body is None:
            return self.cache[key]
        url = self.base_url + path
        answer = None
        for _ in range(MAX_REDIRECTS + 1):
            if self.exhausted:
                return None
            self.left -= 1
            answer = self._once(method, url, json_body)
            if answer is None or answer.status not in (301, 302, 303, 307, 308) or not answer.location:
                break
            target = urljoin(url, answer.location)
            if not self.same_origin(target):
                self.external.append(target)  # listed, never fetched
                break
            url, method, json_body = target, ("GET" if answer.status == 303 else method), json_body
        if json_body is None:
            self.cache[key] = answer
        return answer

    def _once(self, method: str, url: str, json_body: Any) -> Answer | None:
        try:
            with self.client.stream(method, url, json=json_body) as r:
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= MAX_BODY or time.monotonic() > self.deadline:
                        break
                body = b"".join(chunks)[:MAX_BODY]
                return Answer(r.status_code, r.headers.get("content-type", ""), body.decode("utf-8", "replace"),
                              str(r.url), r.headers.get("location", ""))
        except (httpx.HTTPError, OSError):
            return None


def discover(base_url: str) -> Discovery:
    """Probe the deployment: its root document and API prefixes, heartbeat and version conventions, an OpenAPI
    document, the landing page with the pages it links (robots.txt and sitemap.xml too), and routes that want
    credentials."""
    prober = Prober(base_url)
    found = Discovery(base_url=prober.base_url)
    try:
        prefixes = _prefixes(prober, found)
        found.health = _health(prober, found, prefixes)
        _version(prober, found, prefixes)
        _openapi(prober, found, prefixes)
        _pages(prober, found)
        if prober.exhausted:
            found.notes.append(f"discovery stopped at its bounds ({MAX_REQUESTS} requests, {MAX_SECONDS:g} s)")
    finally:
        prober.close()
    found.external = list(dict.fromkeys(prober.external + found.external))
    if found.external:
        found.notes.append(f"{len(found.external)} link(s) or redirect(s) leave the target's origin; never fetched: "
                           + ", ".join(found.external[:5]) + (" ..." if len(found.external) > 5 else ""))
    return found


def _prefixes(prober: Prober, found: Discovery) -> list[str]:
    """'' and the API prefixes the root document points to (`/` -> `/v1/`), else the usual ones that answer."""
    out = [""]
    root = prober.get("/")
    if root is not None and root.status == 200:
        found.answering.append("/")
        final = urlsplit(root.url).path.rstrip("/")
        if final:
            out.append(final)
        doc = root.json()
        for link in _json_links(doc, prober):
            first = "/" + link.strip("/").split("/")[0] if link.strip("/") else ""
            if first and first not in out and re.fullmatch(r"/(v\d+|api)", first):
                out.append(first)
        if isinstance(doc, dict):
            found.notes.append(f"root: / answered a JSON document{' (via ' + final + '/)' if final else ''}")
    for prefix in API_PREFIXES:
        if prefix in out or prober.exhausted:
            continue
        answer = prober.get(prefix + "/")
        if answer is not None and answer.status == 200 and isinstance(answer.json(), dict):
            out.append(prefix)
    return out


def _json_links(doc: Any, prober: Prober, depth: int = 0) -> list[str]:
    """Same-origin paths a JSON document links (absolute URLs of the origin, or /paths)."""
    out: list[str] = []
    if depth > 3:
        return out
    values = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    for value in values:
        if isinstance(value, str) and (value.startswith("/") and not value.startswith("//")):
            out.append(urlsplit(value).path)
        elif isinstance(value, str) and value.startswith(("http://", "https://")) and prober.same_origin(value):
            out.append(urlsplit(value).path or "/")
        elif isinstance(value, dict | list):
            out += _json_links(value, prober, depth + 1)
    return out


def _json_expect(body: Any) -> dict[str, Any]:
    expect: dict[str, Any] = {"status": 200}
    if isinstance(body, dict):
        expect["content_type"] = "application/json"
        status = body.get("status")
        if isinstance(status, str) and status.lower() in _HEALTHY:
            expect["json"] = {"status": status}
        types = {k: _json_type(v) for k, v in body.items() if _json_type(v)}
        if types:
            expect["json_types"] = dict(list(types.items())[:12])
        fresh = {k: "300s" for k in _TIME_KEYS if k in body and _is_recent(body[k])}
        if fresh:
            expect["fresh"] = fresh
    return expect


def _health(prober: Prober, found: Discovery, prefixes: list[str]) -> dict[str, Any] | None:
    """The first health path that answers 200 is `health:`; other heartbeats that answer become checks."""
    health: dict[str, Any] | None = None
    tried: list[str] = []
    # the prefixes found first, then the usual API prefixes even when their root answers nothing
    for prefix in prefixes + [p for p in API_PREFIXES if p not in prefixes]:
        for path in HEALTH_PATHS:
            if prefix and path.startswith("/api/"):
                continue
            tried.append(prefix + path)
            answer = prober.get(prefix + path)
            if answer is None or answer.status != 200 or "html" in answer.content_type:
                continue
            full = final_path(answer)  # where a redirect led (`/__heartbeat__` -> `/v1/__heartbeat__`)
            if full in found.answering:
                continue
            found.answering.append(full)
            expect = _json_expect(answer.json())
            if health is None:
                health = {"path": full, "expect": expect}
                found.notes.append(f"health: {full} answered 200")
            elif "/__" in full and len(found.checks) < 6:
                found.checks.append({"id": "heartbeat:" + _slug(full), "request": {"path": full}, "expect": expect})
                found.notes.append(f"check heartbeat:{_slug(full)}: {full} answered 200")
    if health is None:
        found.notes.append(f"health: none of {', '.join(tried[:8])}{' ...' if len(tried) > 8 else ''} answered "
                           "200; add `health:` by hand")
    return health


def _version(prober: Prober, found: Discovery, prefixes: list[str]) -> None:
    """Version documents (`/__version__`, `/-/versions.json` ...) that answer JSON become checks."""
    for prefix in prefixes:
        for path in VERSION_PATHS:
            answer = prober.get(prefix + path)
            if answer is None or answer.status != 200 or not isinstance(answer.json(), dict):
                continue
            full = final_path(answer)
            found.answering.append(full)
            found.checks.append({"id": "version:" + _slug(full), "request": {"path": full},
                                 "expect": _json_expect(answer.json())})
            found.notes.append(f"check version:{_slug(full)}: {full} answered a JSON document")
            return


def _openapi(prober: Prober, found: Discovery, prefixes: list[str]) -> None:
    """An OpenAPI/Swagger document (JSON or YAML) at the usual paths, under the root and each prefix."""
    for prefix in prefixes:
        for path in OPENAPI_PATHS:
            answer = prober.get(prefix + path)
            document = parse_openapi(answer)
            if document is None:
                continue
            found.openapi = final_path(answer)  # type: ignore[arg-type]
            found.openapi_operations = _read_operations(document)
            found.notes.append(f"fuzz: the OpenAPI document at {found.openapi} ({len(found.openapi_operations)} "
                               "GET operation(s) drafted, read-only)")
            _auth_operations(prober, found, document)
            return


def final_path(answer: Answer) -> str:
    """The path (and query) the answer came from, after same-origin redirects."""
    parts = urlsplit(answer.url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def parse_openapi(answer: Answer | None) -> dict[str, Any] | None:
    """The document when the answer is an OpenAPI/Swagger document in JSON or YAML, else None."""
    if answer is None or answer.status != 200:
        return None
    body = answer.json()
    if body is None and re.match(r"\s*['\"]?(openapi|swagger)['\"]?\s*:", answer.text):
        try:
            body = yaml.safe_load(answer.text)
        except yaml.YAMLError:
            return None
    if isinstance(body, dict) and ("openapi" in body or "swagger" in body) and isinstance(body.get("paths"), dict):
        return body
    return None


def _read_operations(document: dict[str, Any]) -> list[str]:
    """Up to MAX_OPERATIONS GET operations, those without path parameters first (they answer without ids)."""
    gets = [f"GET {path}" for path, item in document["paths"].items()
            if isinstance(item, dict) and isinstance(item.get("get"), dict)]
    gets.sort(key=lambda label: ("{" in label, label.count("/"), label))
    return gets[:MAX_OPERATIONS]


def _auth_operations(prober: Prober, found: Discovery, document: dict[str, Any]) -> None:
    """GET operations without parameters that answer 401/403 without credentials: `requires-auth` checks."""
    base = base_path(document)
    for label in _read_operations(document):
        path = base + label.split(" ", 1)[1]
        if "{" in path or len([c for c in found.checks if c["id"].startswith("requires-auth")]) >= MAX_AUTH_CHECKS:
            continue
        answer = prober.get(path)
        if answer is not None and answer.status in (401, 403):
            _requires_auth(found, path, answer.status)
        elif answer is not None and answer.status == 200:
            found.answering.append(path)


def _requires_auth(found: Discovery, path: str, status: int) -> None:
    cid = "requires-auth:" + _slug(path)
    if any(c["id"] == cid for c in found.checks):
        return
    found.checks.append({"id": cid, "description": f"{path} answered {status} without credentials: it must stay "
                         "closed", "request": {"path": path, "follow_redirects": False},
                         "expect": {"status": [401, 403]}})
    found.notes.append(f"check {cid}: {path} answered {status} without credentials")


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return None


def _is_recent(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        return False
    return abs((datetime.now(UTC) - when).total_seconds()) < 120


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-").lower() or "landing"


def _marker(scan: PageScan) -> str | None:
    for text in (scan.title, scan.h1):
        text = " ".join(text.split())
        if 3 <= len(text) <= 80:
            return text
    return None


def _listed_pages(prober: Prober) -> list[str]:
    """Same-origin paths of robots.txt (Allow lines, Sitemap) and sitemap.xml (<loc>), bounded."""
    out: list[str] = []
    sitemaps = ["/sitemap.xml"]
    robots = prober.get("/robots.txt")
    if robots is not None and robots.status == 200 and "html" not in robots.content_type:
        for line in robots.text.splitlines()[:500]:
            key, _, value = line.partition(":")
            value = value.strip()
            if key.strip().lower() == "sitemap" and prober.same_origin(value):
                sitemaps.insert(0, urlsplit(value).path)
            elif key.strip().lower() == "allow" and value.startswith("/") and not re.search(r"[*$]", value):
                out.append(value)
    for path in list(dict.fromkeys(sitemaps))[:2]:
        answer = prober.get(path)
        if answer is None or answer.status != 200:
            continue
        for loc in re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", answer.text)[:50]:
            if prober.same_origin(loc):
                out.append(urlsplit(loc).path or "/")
    return out


def _pages(prober: Prober, found: Discovery) -> None:
    queue, seen = ["/"], set()
    queue += _listed_pages(prober)
    api_calls: list[str] = []
    auth_candidates: list[str] = []
    while queue and len(found.pages) < MAX_PAGES and not prober.exhausted:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        answer = prober.get(path)
        if answer is not None and answer.status in (401, 403):
            _requires_auth(found, path, answer.status)
            continue
        if answer is None or answer.status != 200 or "html" not in answer.content_type:
            continue
        scan = PageScan()
        scan.feed(answer.text)
        page: dict[str, Any] = {"id": "landing" if path == "/" else _slug(path), "path": path,
                                "expect": {"status": 200, "content_type": "text/html"}}
        if marker := _marker(scan):
            page["expect"]["text"] = marker
        found.pages.append(page)
        for form in scan.forms:
            found.notes.append(f"page {path}: form {form['id'] or form['action'] or '(unnamed)'} with fields "
                               f"{', '.join(dict.fromkeys(form['fields'])) or '(none)'}; a `kind: form` journey can "
                               "submit it")
            if form["method"] == "POST" and form["action"].startswith("/"):
                api_calls.append(form["action"])
        api_calls += _FETCH.findall(answer.text)
        if path == "/":
            # the browser checks visible text: the first heading, not the <title>
            heading = " ".join(scan.h1.split())
            found.journeys.append(_landing_journey(heading if 3 <= len(heading) <= 80 else None))
            if scan.toggle and len(scan.lang_attrs) >= 2:
                langs = sorted(scan.lang_attrs, key=lambda c: (c != "en", c))[:2]
                # where the choice is stored cannot be seen from outside: set storage_key and reload to check it
                found.journeys.append({"id": "language-toggle", "kind": "toggle", "path": "/", "languages": langs,
                                       "toggle": scan.toggle, "storage_key": None, "reload": False})
        for href in scan.links:
            target = urlsplit(urljoin(answer.url, href))
            if target.scheme in ("http", "https") and not prober.same_origin(urljoin(answer.url, href)):
                found.external.append(urljoin(answer.url, href))
                continue
            if not prober.same_origin(urljoin(answer.url, href)) or _ASSET.search(target.path):
                continue
            if target.path and target.path not in seen:
                if re.search(r"(^|/)(login|signin|auth|admin|account)|auth", target.path, re.I):
                    auth_candidates.append(target.path)
                queue.append(target.path)
    for path in dict.fromkeys(auth_candidates):
        if len([c for c in found.checks if c["id"].startswith("requires-auth")]) >= MAX_AUTH_CHECKS:
            break
        if path not in seen:
            answer = prober.get(path)
            if answer is not None and answer.status in (401, 403):
                _requires_auth(found, path, answer.status)
    found.routes = _routes(prober, api_calls, found)


def _landing_journey(marker: str | None) -> dict[str, Any]:
    # budgets wider than the defaults: a draft must pass on a busy CI runner; tighten them once it runs
    journey: dict[str, Any] = {"id": "landing", "kind": "landing", "path": "/",
                               "vitals": {"fcp_ms": 4000, "lcp_ms": 4000, "cls": 0.25}}
    if marker:
        journey["expect_text"] = marker
    return journey


def _routes(prober: Prober, calls: list[str], found: Discovery) -> list[dict[str, Any]]:
    """API routes the pages call, kept when a minimal invalid request gets a 4xx other than 404/405."""
    routes = []
    for path in dict.fromkeys(calls):
        if "{" in path or len(routes) >= MAX_ROUTES or path.endswith("/"):
            continue
        answer = prober.get(path, method="POST", json_body={})
        if answer is not None and 400 <= answer.status < 500 and answer.status not in (404, 405):
            routes.append({"method": "POST", "path": path})
            found.notes.append(f"route POST {path}: an empty JSON body answered {answer.status}")
    return routes
