"""Broken links and assets: from the declared pages, same-origin links, scripts, stylesheets and images, each
fetched once (bounded by depth, count and time), must answer below 400.

Traffic stays on the target: a link to another origin (or a redirect there) is listed as external, never
fetched, unless its host is one of `links.follow_hosts`."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from synthgate.checks.outcome import Outcome
from synthgate.http import Exchange, expand, make_client, may_follow, send_raw
from synthgate.profile.model import Profile

# <link rel=...> values that load something the page needs (preconnect, canonical and alternates load nothing)
_LOADED_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest"}
_SKIP_SCHEMES = ("mailto:", "tel:", "javascript:", "data:", "blob:", "about:")


@dataclass(frozen=True)
class Ref:
    """One reference found in a page: what kind of thing it loads, and its URL as written."""

    kind: str  # "link" | "script" | "stylesheet" | "image" | "asset"
    url: str


class _RefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[Ref] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = a["href"]
        elif tag in ("a", "area") and a.get("href"):
            self.refs.append(Ref("link", a["href"]))
        elif tag == "script" and a.get("src"):
            self.refs.append(Ref("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & _LOADED_RELS:
                self.refs.append(Ref("stylesheet" if "stylesheet" in rels else "asset", a["href"]))
        elif tag in ("img", "source", "video", "audio", "track", "iframe", "embed") and a.get("src"):
            self.refs.append(Ref("image" if tag == "img" else "asset", a["src"]))


def references(html: str, page_url: str) -> list[Ref]:
    """Every reference of an HTML document, resolved to absolute URLs without fragments."""
    parser = _RefParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read
        pass
    base = urljoin(page_url, parser.base) if parser.base else page_url
    out = []
    for ref in parser.refs:
        raw = ref.url.strip()
        if not raw or raw.startswith("#") or raw.lower().startswith(_SKIP_SCHEMES):
            continue
        out.append(Ref(ref.kind, urldefrag(urljoin(base, raw))[0]))
    return out


def same_origin(url: str, base_url: str) -> bool:
    """Scheme, host and port equal (default ports filled in)."""
    def origin(u: str) -> tuple[str, str, int | None]:
        parts = urlsplit(u)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        return parts.scheme.lower(), (parts.hostname or "").lower(), port
    return origin(url) == origin(base_url)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def crawl(profile: Profile, base_url: str) -> Outcome:
    """Fetch the declared pages and what they reference, breadth first, within the profile's bounds."""
    cfg = profile.links
    root = base_url.rstrip("/")
    starts = [root + str(expand(p.path, profile)) for p in profile.pages] or [root + "/"]
    queue: deque[tuple[str, int, str, str]] = deque((url, 0, "", "page") for url in starts)
    seen = set(starts)
    ignore = [re.compile(rx) for rx in cfg.ignore]
    broken: list[str] = []
    bad: list[Exchange] = []
    checked = 0
    deadline = time.monotonic() + cfg.max_time_s
    bound = ""
    external: set[str] = set()
    with make_client(profile) as client:
        while queue:
            if checked >= cfg.max_urls:
                bound = f"stopped at links.max_urls {cfg.max_urls}"
                break
            if time.monotonic() > deadline:
                bound = f"stopped at links.max_time_s {cfg.max_time_s:g}"
                break
            url, depth, referrer, kind = queue.popleft()
            ex = send_raw(client, "GET", url)
            checked += 1
            origin = f" ({kind} on {referrer})" if referrer else " (declared page)"
            if ex.response is None:
                broken.append(f"GET {_path(url)}: no answer: {ex.error}{origin}")
                bad.append(ex)
                continue
            if ex.response.status_code >= 400:
                broken.append(f"GET {_path(url)} answered {ex.response.status_code}{origin}")
                bad.append(ex)
                continue
            location = ex.response.headers.get("location")
            if ex.response.is_redirect and location:  # a redirect left unfollowed: it leads off the target
                external.add(urljoin(str(ex.response.url), location))
            html = ex.response.headers.get("content-type", "").lower().startswith("text/html")
            if not html or depth >= cfg.max_depth or not may_follow(client, base_url, str(ex.response.url)):
                continue
            for ref in references(ex.response.text, str(ex.response.url)):
                if ref.url in seen:
                    continue
                if not may_follow(client, base_url, ref.url):
                    if urlsplit(ref.url).scheme in ("http", "https"):
                        external.add(ref.url)
                    continue
                if any(rx.search(_path(ref.url)) for rx in ignore):
                    continue
                seen.add(ref.url)
                queue.append((ref.url, depth + 1, _path(url), ref.kind))
    note = f"; {bound}, {len(queue)} not fetched" if bound else ""
    listed = ""
    if external:
        listed = f"; {len(external)} external link(s) listed, not fetched: " + ", ".join(sorted(external)[:5]) + (
            " ..." if len(external) > 5 else "")
    if broken:
        return Outcome(ok=False, message=f"{len(broken)} broken: " + "; ".join(broken[:10])
                       + (f" (and {len(broken) - 10} more)" if len(broken) > 10 else "") + note,
                       kind="assertion", exchanges=bad[:10], curl=bad[0].curl(),
                       details={"findings": sorted(set(broken))})  # for `links.new_only` (synthgate/debt.py)
    return Outcome(ok=True, message=f"{checked} same-origin URLs answer below 400{note}{listed}")
