"""Web vitals as the web-vitals library defines them: LCP until the first input or a quiet window past load and
budget, CLS over session windows with shifts after the load event, INP over a journey's interactions; and the
demo's late-lcp and late-shift releases fail their budget checks (and nothing else) in a real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from synthgate.demo.server import EmbeddedTarget
from synthgate.e2e import webvitals
from synthgate.e2e.runner import BrowserSession, vitals_script
from synthgate.profile import load_profile

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title></head><body>
<header style="height:40px">small header</header><main id="main" style="font-size:40px">{main}</main>
<button id="b" style="width:200px;height:60px">press</button>{script}</body></html>"""
LATE_TEXT = ("<script>addEventListener('load', () => setTimeout(() => { document.getElementById('main').textContent ="
             " 'The main text arrives late and it is much larger than the header ever was'; }, 1200));</script>")
LATE_SHIFT = ("<script>addEventListener('load', () => setTimeout(() => { const d = document.createElement('div');"
              " d.style.height = '500px'; document.body.prepend(d); }, 600));</script>")


def _page(chromium: Any, html: str) -> Any:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(script=vitals_script())
    page = context.new_page()
    page.route("http://vitals.test/", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto("http://vitals.test/", wait_until="load")
    return page


def _vitals(page: Any) -> dict[str, Any]:
    return page.evaluate("() => window.__synthgateVitals()")


def test_lcp_takes_a_candidate_painted_after_load(chromium: Any) -> None:
    page = _page(chromium, PAGE.format(main="", script=LATE_TEXT))
    # the load event can come before the first paint on a busy machine: the header's candidate follows it
    page.wait_for_function("() => window.__synthgateVitals().lcp !== null", timeout=1000)
    early = _vitals(page)
    page.wait_for_timeout(1800)
    late = _vitals(page)
    page.context.close()
    assert early["lcp"] < 1000  # the header: the page looked done at load
    assert late["lcp"] > 1200 and late["lcp_candidates"] >= 2 and late["lcp_element"] == "main#main"
    # the quiet window had not passed when the late text was still pending (budget 1000 ms, quiet 500 ms)
    assert not webvitals.observation_done({**early, "now": early["load"] + 600}, 500, 1000, 15000)


def test_lcp_stops_at_the_first_input(chromium: Any) -> None:
    page = _page(chromium, PAGE.format(main="", script=LATE_TEXT))
    page.click("#b")
    page.wait_for_timeout(1800)
    after = _vitals(page)
    page.context.close()
    assert after["lcp_stopped"] == "input"
    assert after["lcp"] < 1000  # the late paint follows the user's input: web-vitals does not count it


def test_cls_counts_a_shift_after_the_load_event(chromium: Any) -> None:
    page = _page(chromium, PAGE.format(main="content " * 150, script=LATE_SHIFT))
    at_load = _vitals(page)
    page.wait_for_timeout(1200)
    later = _vitals(page)
    page.context.close()
    assert at_load["cls"] == 0
    assert later["cls"] > 0.1 and later["shifts"] >= 1 and later["last_shift_at"] > later["load"] + 500


def test_inp_is_the_slowest_interaction(chromium: Any) -> None:
    slow = "<script>document.getElementById('b').addEventListener('click', () => { const t = performance.now();" \
           " while (performance.now() - t < 300) {} });</script>"
    page = _page(chromium, PAGE.format(main="content", script=slow))
    page.click("#b")
    page.wait_for_timeout(300)
    measured = _vitals(page)
    page.context.close()
    assert measured["interactions"] >= 1 and measured["inp"] >= 300 and measured["inp_target"] == "button#b"


def test_observation_rules_and_inp_percentile() -> None:
    base = {"load": 200.0, "lcp_at": 210.0, "last_shift_at": None, "lcp_stopped": None}
    # a quiet page is judged once the LCP budget plus the quiet window has passed, not at load
    assert not webvitals.observation_done({**base, "now": 1500.0}, 1000, 2500, 15000)
    assert webvitals.observation_done({**base, "now": 3600.0}, 1000, 2500, 15000)
    # a candidate or a shift restarts the quiet window; an input ends LCP (shifts still count)
    assert not webvitals.observation_done({**base, "lcp_at": 3100.0, "now": 3600.0}, 1000, 2500, 15000)
    stopped = {**base, "lcp_stopped": "input", "last_shift_at": 400.0}
    assert webvitals.observation_done({**stopped, "now": 1500.0}, 1000, 2500, 15000)
    assert webvitals.observation_done({**base, "load": None, "now": 15000.0}, 1000, 2500, 15000)
    hundred = [{"id": str(n), "duration": float(n)} for n in range(100)]
    assert webvitals.inp(hundred)[0] == 97.0  # 100 interactions: the third worst (one skipped per 50)
    assert webvitals.inp([{"id": "a", "duration": 40}, {"id": "a", "duration": 90}])[:3:2] == (90.0, 1)
    assert webvitals.inp([]) == (None, None, 0)


@pytest.fixture(scope="module")
def session() -> Any:
    """One warm browser for the demo journeys of this module, as within one e2e stage."""
    with BrowserSession() as browser:
        yield browser


@pytest.fixture(scope="module")
def landing_only() -> Any:
    profile, _ = load_profile("demo")
    landing = [j for j in profile.journeys if j.id == "landing"]
    return profile.model_copy(update={"journeys": landing, "e2e": profile.e2e.model_copy(update={"retries": 0})})


@pytest.mark.parametrize(("fault", "failing"), [(None, set()), ("late-lcp", {"landing.lcp-budget"}),
                                                 ("late-shift", {"landing.cls-budget"})],
                         ids=["healthy", "late-lcp", "late-shift"])
def test_demo_late_vitals_fail_their_budget_checks(session: Any, landing_only: Any, tmp_path: Path,
                                                   fault: str | None, failing: set[str]) -> None:
    with EmbeddedTarget(fault=fault) as target:
        run = session.run(landing_only, target.url, tmp_path)
    failed = {cid: r for cid, r in run.results.items() if r.status == "failed"}
    assert set(failed) == failing, {c: r.message for c, r in failed.items()}
    for r in failed.values():
        assert "is over the budget" in r.message
    if fault == "late-lcp":
        assert failed["landing.lcp-budget"].details["lcp"] > 2500
    if fault == "late-shift":
        assert failed["landing.cls-budget"].details["cls"] > 0.15
