"""`synthgate init --from URL`: look at a live deployment and draft a profile whose gate passes on it today.

Every read is bounded (time per request, bytes per body, number of pages and candidates). Whatever is drafted
is then checked against the deployment with the smoke checks themselves, and what fails is left out with a
note: a draft that fails a healthy deploy would be thrown away, not reviewed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from synthgate.http import USER_AGENT

TIMEOUT_S = 5.0
MAX_BODY = 2 * 1024 * 1024
MAX_PAGES = 6  # the landing page and up to five pages it links
MAX_ROUTES = 8
HEALTH_PATHS = ("/health", "/v1/health", "/api/health", "/healthz", "/api/healthz", "/status", "/api/status")
OPENAPI_PATHS = ("/openapi.json", "/openapi.yaml", "/swagger.json", "/api/openapi.json", "/v3/api-docs",
                 "/docs/openapi.json", "/api-docs")
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
    journeys: list[dict[str, Any]] = field(default_factory=list)
    openapi: str | None = None
    notes: list[str] = field(default_factory=list)


class Prober:
    """Bounded reads against one deployment."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=httpx.Timeout(TIMEOUT_S), follow_redirects=True,
                                   headers={"User-Agent": USER_AGENT, "X-Synthetic-Check": "synthgate"})

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def get(self, path: str, method: str = "GET", json_body: Any = None) -> Answer | None:
        """One request, the body cut at MAX_BODY; None when the target gave no answer."""
        try:
            with self.client.stream(method, self.base_url + path, json=json_body) as r:
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= MAX_BODY:
                        break
                body = b"".join(chunks)[:MAX_BODY]
                return Answer(r.status_code, r.headers.get("content-type", ""), body.decode("utf-8", "replace"),
                              str(r.url))
        except (httpx.HTTPError, OSError):
            return None


def discover(base_url: str) -> Discovery:
    """Probe the deployment: health, OpenAPI, landing page and the pages it links, its forms and API calls."""
    prober = Prober(base_url)
    found = Discovery(base_url=prober.base_url)
    try:
        found.health = _health(prober, found)
        found.openapi = next((p for p in OPENAPI_PATHS if _is_openapi(prober.get(p))), None)
        _pages(prober, found)
    finally:
        prober.close()
    return found


def _health(prober: Prober, found: Discovery) -> dict[str, Any] | None:
    for path in HEALTH_PATHS:
        answer = prober.get(path)
        if answer is None or answer.status != 200:
            continue
        expect: dict[str, Any] = {"status": 200}
        body = answer.json()
        if isinstance(body, dict):
            expect["content_type"] = "application/json"
            if body.get("status") in ("ok", "healthy", "up", "pass"):
                expect["json"] = {"status": body["status"]}
            types = {k: _json_type(v) for k, v in body.items() if _json_type(v)}
            if types:
                expect["json_types"] = types
            fresh = {k: "300s" for k in _TIME_KEYS if k in body and _is_recent(body[k])}
            if fresh:
                expect["fresh"] = fresh
        found.notes.append(f"health: {path} answered 200")
        return {"path": path, "expect": expect}
    found.notes.append(f"health: none of {', '.join(HEALTH_PATHS)} answered 200; add `health:` by hand")
    return None


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


def _is_openapi(answer: Answer | None) -> bool:
    if answer is None or answer.status != 200:
        return False
    body = answer.json()
    if isinstance(body, dict):
        return "openapi" in body or "swagger" in body
    return bool(re.match(r"\s*(openapi|swagger)\s*:", answer.text))


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-").lower() or "landing"


def _marker(scan: PageScan) -> str | None:
    for text in (scan.title, scan.h1):
        text = " ".join(text.split())
        if 3 <= len(text) <= 80:
            return text
    return None


def _pages(prober: Prober, found: Discovery) -> None:
    origin = urlsplit(prober.base_url)
    queue, seen = ["/"], set()
    api_calls: list[str] = []
    while queue and len(found.pages) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        answer = prober.get(path)
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
                               f"{', '.join(form['fields']) or '(none)'}; a `kind: form` journey can submit it")
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
            if (target.scheme, target.netloc) != (origin.scheme, origin.netloc) or _ASSET.search(target.path):
                continue
            if target.path and target.path not in seen:
                queue.append(target.path)
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
