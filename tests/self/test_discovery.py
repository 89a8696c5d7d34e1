"""Discovery for `init --from` and traffic that stays on the target: what real apps expose is found (heartbeats
under an API prefix, a JSON root's links, an OpenAPI document in YAML, robots.txt and sitemap.xml pages, routes
that want credentials), every read is bounded, and no link or redirect is ever followed off the target's origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from synthgate.checks import links, registry, smoke
from synthgate.profile.model import Profile
from synthgate.project.discover import Prober, discover

Routes = dict[str, tuple[int, dict[str, str], str]]
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


class Served:
    """A scripted loopback server: full path (query included) -> (status, headers, body); counts every hit."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.hits: list[str] = []
        self.url = ""


@contextmanager
def serve(routes: Routes) -> Iterator[Served]:
    served = Served(routes)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            served.hits.append(self.path)
            status, headers, body = served.routes.get(self.path, (404, {"Content-Type": "text/plain"}, "no"))
            data = body.replace("{ORIGIN}", served.url).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value.replace("{ORIGIN}", served.url))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


SPEC_YAML = """swagger: '2.0'
info: {title: storage, version: '1'}
basePath: /v1
paths:
  /buckets:
    get:
      responses: {'200': {description: ok}, '401': {description: no}}
  /buckets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, type: string}]
      responses: {'200': {description: ok}}
"""


def _json_api(outside: str) -> Routes:
    """A JSON storage API: / redirects to /v1/, heartbeats and its spec live under /v1, buckets need credentials."""
    return {
        "/": (307, {"Location": "/v1/"}, ""),
        "/v1/": (200, JSON, '{"project_name": "store", "url": "{ORIGIN}/v1/", "docs": "' + outside + '/docs"}'),
        "/v1/__heartbeat__": (200, JSON, '{"storage": true, "cache": true}'),
        "/v1/__lbheartbeat__": (200, JSON, "{}"),
        "/v1/__version__": (200, JSON, '{"version": "1.2.3", "commit": "abc"}'),
        "/v1/__api__": (200, {"Content-Type": "application/yaml"}, SPEC_YAML),
        "/v1/buckets": (401, JSON, '{"code": 401}'),
        "/robots.txt": (200, {"Content-Type": "text/plain"}, "User-agent: *\nSitemap: {ORIGIN}/sitemap.xml\n"),
        "/sitemap.xml": (200, {"Content-Type": "application/xml"},
                         "<urlset><url><loc>{ORIGIN}/about</loc></url><url><loc>" + outside + "/x</loc></url>"
                         "</urlset>"),
        "/about": (200, HTML, f'<html><title>About the store</title><h1>About</h1><a href="{outside}/away">a</a>'
                              '<a href="/go-out">out</a></html>'),
        "/go-out": (302, {"Location": outside + "/landing"}, ""),
    }


def test_discovery_finds_what_a_json_api_exposes_and_never_leaves_its_origin() -> None:
    with serve({}) as elsewhere, serve(_json_api("")) as app:
        app.routes.update(_json_api(elsewhere.url))
        found = discover(app.url)
    assert found.health is not None and found.health["path"] == "/v1/__heartbeat__"  # under the root's prefix
    assert found.health["expect"]["json_types"] == {"storage": "boolean", "cache": "boolean"}
    ids = {c["id"]: c for c in found.checks}
    assert "heartbeat:v1-lbheartbeat" in ids and "version:v1-version" in ids
    assert ids["requires-auth:v1-buckets"]["expect"]["status"] == [401, 403]  # basePath applied to the spec paths
    assert found.openapi == "/v1/__api__" and found.openapi_operations[0] == "GET /buckets"  # YAML, under /v1
    assert [p["path"] for p in found.pages] == ["/about"]  # from the sitemap that robots.txt names
    assert found.pages[0]["expect"]["text"] == "About the store"
    assert elsewhere.hits == []  # the outside links and the redirect out were listed, never fetched
    assert any(u.startswith(elsewhere.url) for u in found.external)


def test_discovery_is_bounded_in_requests() -> None:
    with serve({f"/p{n}": (200, HTML, "x") for n in range(50)}) as app:
        prober = Prober(app.url, max_requests=7)
        try:
            answers = [prober.get(f"/p{n}") for n in range(50)]
        finally:
            prober.close()
    assert len(app.hits) == 7 and sum(a is not None for a in answers) == 7


def test_redirect_loops_and_long_chains_are_cut() -> None:
    routes = {f"/r{n}": (302, {"Location": f"/r{n + 1}"}, "") for n in range(20)}
    with serve(routes) as app:
        prober = Prober(app.url)
        try:
            answer = prober.get("/r0")
        finally:
            prober.close()
    assert answer is not None and answer.status == 302 and len(app.hits) == 6  # the request and 5 redirects


def _profile(**extra: object) -> Profile:
    return Profile.model_validate({"name": "t", "defaults": {"timeout_s": 5, "retries": 0},
                                   "pages": [{"id": "home", "path": "/"}], **extra})


def test_links_never_follow_a_link_or_redirect_off_the_origin_unless_its_host_is_named() -> None:
    with serve({"/landing": (200, HTML, "outside"), "/asset.js": (200, JSON, "1")}) as elsewhere:
        page = (f'<a href="/redirect-to">r</a><a href="{elsewhere.url}/landing">x</a>'
                f'<script src="{elsewhere.url}/asset.js"></script>')
        routes = {"/": (200, HTML, page), "/redirect-to": (302, {"Location": elsewhere.url + "/landing"}, "")}
        with serve(routes) as app:
            outcome = links.crawl(_profile(), app.url)
            assert outcome.ok, outcome.message
            assert elsewhere.hits == []  # neither the link, the script nor the redirect went there
            assert "2 external link(s) listed, not fetched" in outcome.message and "/landing" in outcome.message
            host = elsewhere.url.removeprefix("http://")
            named = links.crawl(_profile(links={"follow_hosts": [host]}), app.url)
    assert named.ok and sorted(elsewhere.hits) == ["/asset.js", "/landing", "/landing"]


def test_a_check_never_follows_a_redirect_off_the_origin() -> None:
    with serve({"/landing": (200, HTML, "outside")}) as elsewhere, serve({}) as app:
        app.routes["/"] = (302, {"Location": elsewhere.url + "/landing"}, "")
        profile = _profile()
        page_check = next(c for c in registry.checks(profile, probed=True) if c.id == "page:home")
        result = smoke.execute(page_check, profile, app.url)
    assert elsewhere.hits == []
    assert not result.final.ok and "302" in result.final.message


def test_a_hygiene_item_relaxed_when_drafted_says_so_beside_it() -> None:
    import yaml

    from synthgate.project.scaffold import annotate

    body = "name: x\nhygiene:\n  nosniff: warn\n  csp: fail\n  framing: warn\n"
    text = annotate(body, ["hygiene.nosniff: warn, not fail: the app does not meet it today (...)"])
    assert "  nosniff: warn  # the app lacks it today" in text and "  framing: warn\n" in text  # not relaxed
    assert yaml.safe_load(text) == yaml.safe_load(body)
