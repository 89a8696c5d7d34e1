"""Broken links and assets: same-origin references of the declared pages, bounded by depth, count and time."""

from __future__ import annotations

from pathlib import Path

from readiness_server import serve
from verdicts import read_verdict

from synthgate.checks import links
from synthgate.profile.model import Profile

HTML = {"Content-Type": "text/html; charset=utf-8"}


def _profile(**links_cfg: object) -> Profile:
    return Profile.model_validate({"name": "t", "defaults": {"timeout_s": 5, "retries": 0}, "links": links_cfg,
                                   "pages": [{"id": "home", "path": "/"}]})


def test_references_found_in_a_page() -> None:
    html = """<html><head><link rel="stylesheet" href="/s.css"><link rel="preconnect" href="https://cdn.example">
    <link rel="icon" href="data:,"><script src="app.js"></script></head><body>
    <a href="/a#top">a</a><a href="#only-a-fragment">f</a><a href="mailto:x@example.com">m</a>
    <img src="//other.example/logo.png"><a href="https://other.example/x">other</a></body></html>"""
    refs = links.references(html, "http://h:8000/dir/page")
    assert [(r.kind, r.url) for r in refs] == [
        ("stylesheet", "http://h:8000/s.css"), ("script", "http://h:8000/dir/app.js"), ("link", "http://h:8000/a"),
        ("image", "http://other.example/logo.png"), ("link", "https://other.example/x")]
    assert links.same_origin("http://h:80/x", "http://h/") and not links.same_origin("https://h/", "http://h/")


def test_a_broken_asset_or_link_fails_and_names_where_it_is_linked() -> None:
    routes = {
        "/": (200, HTML, '<a href="/ok">ok</a><img src="/missing.png"><script src="/app.js"></script>'
                         '<a href="https://elsewhere.invalid/gone">external links are not fetched</a>'),
        "/ok": (200, HTML, "fine"),
        "/app.js": (500, {"Content-Type": "text/javascript"}, "boom"),
    }
    with serve(routes) as url:
        outcome = links.crawl(_profile(), url)
    assert not outcome.ok
    assert "GET /missing.png answered 404 (image on /)" in outcome.message
    assert "GET /app.js answered 500 (script on /)" in outcome.message
    assert "/ok" not in outcome.message and "elsewhere" not in outcome.message


def test_depth_count_and_time_bound_the_crawl() -> None:
    routes = {"/": (200, HTML, '<a href="/b">b</a>'), "/b": (200, HTML, '<a href="/c">c</a>')}  # /c: 404
    with serve(routes) as url:
        assert links.crawl(_profile(max_depth=1), url).ok  # /c is two hops away
        deep = links.crawl(_profile(max_depth=2), url)
        assert not deep.ok and "GET /c answered 404 (link on /b)" in deep.message
    many = {"/": (200, HTML, "".join(f'<a href="/p{n}">{n}</a>' for n in range(200)))}
    many.update({f"/p{n}": (200, HTML, "") for n in range(200)})
    with serve(many) as url:
        counted = links.crawl(_profile(max_urls=20), url)
        assert counted.ok and "stopped at links.max_urls 20" in counted.message
        timed = links.crawl(_profile(max_time_s=0.05), url)
        assert timed.ok and "stopped at links.max_time_s 0.05" in timed.message
        ignored = links.crawl(_profile(ignore=["^/p1"]), url)
        assert ignored.ok and ignored.message.startswith("90 same-origin URLs")  # 1 page + 89 not matching ^/p1


def test_broken_link_fault_fails_the_gate_through_the_links_check(cli, tmp_path: Path) -> None:
    proc = cli("run", "--demo-fault", "broken-link", "--stages", "smoke", "--no-rollback", "--reports", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdict = read_verdict(tmp_path)
    failed = [c for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"]
    assert [c["id"] for c in failed] == ["links"]
    assert "GET /pricing answered 404 (link on /)" in failed[0]["message"]
