"""report.html: one self-contained page from the same Verdict as every other report.

Everything the page needs is inside the file (CSS, SVG charts, screenshots as data URIs), so it opens from a CI
artifact, a mail attachment or an air-gapped laptop without a single network request. No JavaScript.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from synthgate.redact import redactor
from synthgate.reports.markdown import shown_status
from synthgate.reports.svg import Axis, Rule, Series, bar_chart, fmt, line_chart, nines
from synthgate.results import (
    BaselineComparison,
    BaselineMetric,
    CheckResult,
    HistoryPoint,
    LoadSummary,
    RequestStats,
    RolloutReport,
    RolloutStepReport,
    StageResult,
    Verdict,
)

CSS_FILE = Path(__file__).with_name("report.css")
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}
TEXT_TYPES = (".txt", ".log")
MAX_TEXT_BYTES = 64 * 1024  # larger logs are linked
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # larger screenshots are linked, not inlined
MAX_INLINE_BYTES = 30 * 1024 * 1024  # keeps the page openable when a run produced many screenshots
BANNER = {"pass": "PASSED", "fail": "FAILED", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
# keys under which the fuzz stage (or any stage) may put the minimal failing input of a check


class _Inliner:
    """Turns evidence files into data URIs within a size budget; placeholders keep them out of redaction."""

    def __init__(self, reports_dir: Path | None) -> None:
        self.root = reports_dir.resolve() if reports_dir else None
        self.used = 0
        self.data: dict[str, str] = {}
        self.shown: dict[str, str] = {}  # evidence path -> anchor of the figure that inlines it (once per page)

    def resolve(self, rel: str) -> Path | None:
        """The evidence file inside the reports dir, or None (missing, or pointing outside it)."""
        if self.root is None:
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def image(self, rel: str) -> str | None:
        """A placeholder for the image's data URI, or None when it is not an image or over budget."""
        if rel in self.shown:
            return None
        mime = IMAGE_TYPES.get(Path(rel).suffix.lower())
        path = self.resolve(rel) if mime else None
        if path is None:
            return None
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES or self.used + size > MAX_INLINE_BYTES:
            return None
        self.used += size
        key = f"@@SG-IMAGE-{len(self.data)}@@"
        self.data[key] = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        self.shown[rel] = f"evidence-{len(self.shown)}"
        return key

    def text(self, rel: str) -> str | None:
        """A small text evidence file's content (shown inline), or None."""
        path = self.resolve(rel) if Path(rel).suffix.lower() in TEXT_TYPES and rel not in self.shown else None
        if path is None or path.stat().st_size > MAX_TEXT_BYTES:
            return None
        self.shown[rel] = f"evidence-{len(self.shown)}"
        return path.read_text(encoding="utf-8", errors="replace")

    def fill(self, document: str) -> str:
        """Put the data URIs in place of their placeholders."""
        for key, uri in self.data.items():
            document = document.replace(key, uri)
        return document


def render(verdict: Verdict, reports_dir: Path | None = None) -> str:
    """The whole report as one HTML document (redacted)."""
    v = verdict
    images = _Inliner(reports_dir)
    body: list[str] = [_banner(v), "<main>", _nav(v)]
    if v.verdict == "inconclusive" and any(c.kind == "unreachable" for _, c in v.failed_checks()):
        body.append('<div class="callout"><strong>The runner could not reach the target.</strong> No check got an '
                    "answer, so this says nothing about the deployment: check the runner's network, DNS and the "
                    "base URL.</div>")
    if v.verdict == "error":
        rolled = ("it was rolled back only because <code>rollback.on</code> lists <code>error</code>"
                  if v.rollback.triggered else "nothing was rolled back for it")
        body.append('<div class="callout"><strong>synthgate could not judge this deployment.</strong> Something broke '
                    "in synthgate or in the team's test code (a crashed stage or suite, a broken conftest.py or "
                    f"fixture), not in the deployment: this is no evidence against it, and {rolled}. "
                    f"Read <code>{escape(v.log or 'logs/')}</code> in the reports directory.</div>")
    if v.baseline:
        body.append(_baseline(v.baseline))
    if v.rollout:
        body.append(_rollout(v.rollout))
    body.append(_accepted_and_debt(v))
    body.append(_failed(v, images))
    body.append(_flaky(v))
    body.append(_latency(v))
    if v.load is not None:
        body.append(_load(v.load, v, images))
    body.append(_stages(v, images))
    body.append(_rollback(v))
    body.append(_artefacts(reports_dir))
    generated = datetime.now().astimezone().isoformat(timespec="seconds")
    body.append(f'<footer>synthgate {escape(v.synthgate_version)} · report generated {escape(generated)} · '
                f'profile {escape(v.profile or v.target)}</footer></main>')
    title = f"synthgate {v.target}: {BANNER[v.verdict]}"
    css = CSS_FILE.read_text(encoding="utf-8")
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # the page may load nothing from anywhere: inline styles and data: images only
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{escape(title)}</title><style>{css}</style></head>"
        f'<body class="verdict-{escape(v.verdict)}">' + "\n".join(part for part in body if part) + "</body></html>\n"
    )
    return images.fill(redactor(document))


def write(verdict: Verdict, reports_dir: Path) -> Path:
    """Write report.html atomically."""
    path = reports_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(verdict, reports_dir), encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- sections ---------------------------------------------------------------------------------------------------

def _banner(v: Verdict) -> str:
    meta = [("target", v.base_url or "(none)"), ("release", v.release or "unknown"), ("exit code", str(v.exit_code)),
            ("started", v.started_at), ("took", f"{v.duration_s:.1f} s"),
            ("checks", f"{len(v.all_checks())} run, {len(v.failed_checks())} failed, {len(v.flaky_checks())} flaky")]
    if v.release_wait is not None:  # the wait for the new release to be live, before any stage judged
        meta.insert(2, ("release wait", v.release_wait.summary()))
    items = "".join(f"<div><dt>{escape(k)}:</dt><dd>{escape(val)}</dd></div>" for k, val in meta)
    return (f'<header class="banner verdict-{escape(v.verdict)}" id="verdict"><div class="inner">'
            f'<h1>synthgate · {escape(v.target)}: <span class="verdict-word">{BANNER[v.verdict]}</span></h1>'
            f'<p class="reason">{escape(v.reason or "")}</p><dl>{items}</dl></div></header>')


def _nav(v: Verdict) -> str:
    links = [("failed", "Failed checks")] if v.failed_checks() else []
    if any(c.status != "skipped" and c.duration_ms > 0 for _, c in v.all_checks()):
        links.append(("latency", "Latency"))
    if v.load is not None:
        links.append(("load", "Load"))
    links += [("stages", "Stages"), ("rollback", "Rollback")]
    if v.baseline:
        links.insert(0, ("baseline", "Baseline"))
    if v.rollout:
        links.insert(0, ("rollout", "Rollout"))
    return "<nav>" + "".join(f'<a href="#{k}">{escape(t)}</a>' for k, t in links) + "</nav>"


def _failed(v: Verdict, images: _Inliner) -> str:
    failed = v.failed_checks()
    if not failed:
        return ""
    cards = [f'<h2 id="failed">Failed checks ({len(failed)})</h2>']
    for stage, c in failed:
        cards.append(_card(stage, c, images))
    return "\n".join(cards)


def _card(stage: str, c: CheckResult, images: _Inliner) -> str:
    kind = c.kind or "assertion"
    out = [f'<article class="card failed-check" id="check-{_anchor(stage, c.id)}" data-check="{escape(c.id)}">',
           f'<h3><span class="muted">{escape(stage)} /</span> <code class="check-id">{escape(c.id)}</code> '
           f'<span class="badge failed">{escape(kind)}</span></h3>',
           f'<div class="meta">attempts: {c.attempts} · {c.duration_ms:.0f} ms</div>',
           f'<div class="message">{escape(c.message)}</div>']
    # what synthgate.fuzz.report writes about a broken property is shown on its own, not among the details
    details = {k: v for k, v in c.details.items() if k not in ("properties", "shrunk")}
    if len(c.attempts_detail) > 1:  # each attempt apart: a retry may fail for another reason than the first
        rows = "".join(f'<li>attempt {a.attempt}: {"ok" if a.ok else escape(a.message)}'
                       + (f" (status {a.status})" if a.status is not None else "") + "</li>"
                       for a in c.attempts_detail)
        out.append(f'<h4>Attempts</h4><ol class="attempts">{rows}</ol>')
    if c.broken_properties:
        out.append(f'<h4>Property broken</h4><div class="property">{escape(", ".join(c.broken_properties))}</div>')
    if c.curl:
        title = "Reproduce the minimal failing example (shrunk)" if c.shrunk else "Reproduce"
        out.append(f'<h4>{title}</h4><pre class="curl"><code>{escape(c.curl)}</code></pre>')
    out += _evidence(c.evidence, images, inline=True)
    if details:
        out.append(f"<details><summary>details</summary><pre>{escape(_pretty(details))}</pre></details>")
    out.append("</article>")
    return "\n".join(out)


def _evidence(items: list[str], images: _Inliner, inline: bool) -> list[str]:
    out: list[str] = []
    for rel in items:
        placeholder = images.image(rel) if inline else None
        if placeholder:
            out.append(f'<figure class="evidence" id="{images.shown[rel]}"><img src="{placeholder}" '
                       f'alt="{escape(rel)}" loading="eager"><figcaption>{escape(rel)}</figcaption></figure>')
            continue
        if rel in images.shown:  # several checks of one journey share their evidence: shown once, linked after
            out.append(f'<div class="evidence-link">evidence: <a href="#{images.shown[rel]}">{escape(rel)}</a>'
                       '<span class="muted"> (shown above)</span></div>')
            continue
        path = images.resolve(rel)
        text = images.text(rel) if inline else None
        if text is not None:  # request/response dumps and console logs: short, and the heart of the failure
            out.append(f'<details class="evidence-text" id="{images.shown[rel]}" open><summary>{escape(rel)}'
                       f"</summary><pre>{escape(text)}</pre></details>")
            continue
        size = f" ({_size(path.stat().st_size)})" if path else " (not found)"
        out.append(f'<div class="evidence-link">evidence: <a href="{escape(quote(rel))}">{escape(rel)}</a>'
                   f'<span class="muted">{escape(size)}</span></div>')
    return out


def _accepted_and_debt(v: Verdict) -> str:
    """Accepted defects, expired and stale acceptances, existing debt of `new_only` checks."""
    out: list[str] = []
    accepted = v.accepted_checks()
    if accepted:
        rows = "".join(f'<tr class="row-accepted"><td>{escape(s)}</td><td><code>{escape(c.id)}</code></td>'
                       f"<td>{escape(str(c.acceptance and c.acceptance.until))}</td>"
                       f"<td>{escape(str(c.acceptance and c.acceptance.reason))}</td>"
                       f'<td class="msg">{escape(_short(c.message))}</td></tr>' for s, c in accepted)
        out.append(f'<h2 id="accepted">Accepted defects ({len(accepted)})</h2><p class="muted">Failed, but set aside '
                   "by the profile's <code>accept:</code> until their date: neither pass nor fail.</p><table><tr>"
                   f"<th>stage</th><th>check</th><th>until</th><th>reason</th><th>message</th></tr>{rows}</table>")
    expired = [(c, note) for _, c in v.all_checks() if (note := c.expired_acceptance) is not None]
    if expired:
        items = "".join(f"<li><code>{escape(c.id)}</code>: acceptance expired on {escape(note.until)}</li>"
                        for c, note in expired)
        out.append(f"<h3>Expired acceptances (failing again)</h3><ul>{items}</ul>")
    if v.stale_acceptances:
        items = "".join(f"<li><code>{escape(e.check)}</code>: {escape(e.reason)} (until {escape(e.until)})"
                        "</li>" for e in v.stale_acceptances)
        out.append(f"<h3>Stale acceptances (matched no failing check: clean them up)</h3><ul>{items}</ul>")
    if v.debt:
        d = v.debt
        how = ("no previous release to compare with: this run's findings are the starting debt"
               if d.first_run else f"compared with {d.compared_with}")
        rows = "".join(f"<tr><td>{escape(s)}</td><td><code>{escape(c.id)}</code></td>"
                       f"<td class=\"num\">{len(found.existing)}</td><td class=\"num\">{len(found.new)}</td></tr>"
                       for s, c in v.debt_checks() if (found := c.debt) is not None)
        out.append(f'<h2 id="debt">Existing debt ({d.existing} finding(s), {d.new} new)</h2>'
                   f'<p class="muted">{escape(how)}.</p>'
                   + (f'<table><tr><th>stage</th><th>check</th><th class="num">existing debt</th>'
                      f'<th class="num">new</th></tr>{rows}</table>' if rows else ""))
    return "\n".join(out)


def _flaky(v: Verdict) -> str:
    flaky = v.flaky_checks()
    if not flaky:
        return ""
    rows = "".join(f'<tr class="row-flaky"><td>{escape(s)}</td><td><code>{escape(c.id)}</code></td>'
                   f'<td class="num">{c.attempts}</td><td class="msg">{escape(c.message)}</td></tr>' for s, c in flaky)
    return (f'<h2 id="flaky">Flaky checks ({len(flaky)})</h2><p class="muted">Failed at first, passed after a retry: '
            f"reported apart, they do not fail the gate.</p><table><tr><th>stage</th><th>check</th>"
            f'<th class="num">attempts</th><th>message</th></tr>{rows}</table>')


def _latency(v: Verdict) -> str:
    bars = []
    for stage, c in v.all_checks():
        if c.status == "skipped" or c.duration_ms <= 0:
            continue
        status = "flaky" if c.is_flaky else c.status
        bars.append((f"{stage}/{c.id}", c.duration_ms, status))
    if not bars:
        return ""
    bars = bars[:80]  # one bar per check; a huge suite keeps its first 80 here (all are in the tables)
    chart = bar_chart(bars, title="Check latency (time per check, all attempts)", unit="ms", width=960,
                      chart_id="chart-check-latency")
    return f'<h2 id="latency">Latency</h2><div class="charts">{chart}</div>'


def _load(load: LoadSummary, v: Verdict, images: _Inliner) -> str:
    def ms(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f} ms"

    rate = "n/a" if load.error_rate is None else f"{load.error_rate * 100:.2f} %"
    rps = "n/a" if load.rps is None else f"{load.rps:.1f}"
    out = ['<h2 id="load">Load</h2>',
           '<table class="load-headline"><tr><th class="num">P50</th><th class="num">P95</th><th class="num">P99</th>'
           '<th class="num">error rate</th><th class="num">req/s</th><th class="num">requests</th></tr>'
           f'<tr><td class="num">{ms(load.p50_ms)}</td><td class="num">{ms(load.p95_ms)}</td>'
           f'<td class="num">{ms(load.p99_ms)}</td><td class="num">{rate}</td><td class="num">{rps}</td>'
           f'<td class="num">{load.requests}</td></tr></table>']
    if load.thresholds:
        out.append(_thresholds(load))
    charts = [_percentile_chart(load), _throughput_chart(load.history)]
    out.append('<div class="charts">' + "".join(c for c in charts if c) + "</div>")
    if load.per_request:
        out.append(_per_request(load.per_request))
    if load.notes:
        out.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in load.notes) + "</ul>")
    return "\n".join(out)


def _thresholds(load: LoadSummary) -> str:
    rows = []
    for name, limit in load.thresholds.items():
        measured, ok = _measured(load, name, limit)
        badge = ('<span class="badge">n/a</span>' if ok is None
                 else f'<span class="badge {"ok" if ok else "broken"}">{"ok" if ok else "broken"}</span>')
        rows.append(f"<tr><td>{escape(name)}</td><td class=\"num\">{escape(fmt(limit))}</td>"
                    f'<td class="num">{escape("n/a" if measured is None else fmt(measured))}</td><td>{badge}</td></tr>')
    return ('<table class="thresholds"><tr><th>threshold</th><th class="num">limit</th><th class="num">measured</th>'
            "<th>result</th></tr>" + "".join(rows) + "</table>")


def _measured(load: LoadSummary, name: str, limit: float) -> tuple[float | None, bool | None]:
    """The measured value behind a threshold name (p95_ms, error_rate, min_rps, max_error_rate...)."""
    base = re.sub(r"^(min|max)_|_(min|max)$", "", name)
    value = getattr(load, base, None) if base in LoadSummary.model_fields else None
    if value is None and base in ("rps", "throughput", "min_throughput"):
        value = load.rps
    if not isinstance(value, int | float):
        return None, None
    floor = name.startswith("min_") or name.endswith("_min") or base == "rps"
    return float(value), (value >= limit if floor else value <= limit)


def _percentile_chart(load: LoadSummary) -> str:
    points = []
    for key, value in load.percentiles.items():
        p = _percent(key)
        if p is not None and isinstance(value, int | float) and math.isfinite(value) and 0 < p <= 100:
            points.append((p, float(value)))
    if not points:
        points = [(p, val) for p, val in ((50.0, load.p50_ms), (95.0, load.p95_ms), (99.0, load.p99_ms))
                  if val is not None]
    if not points:
        return ""
    points.sort()
    xy = [(nines(p), val) for p, val in points]
    ticks = [(nines(p), _plabel(p)) for p in (50, 90, 99, 99.9, 99.99) if nines(p) <= nines(points[-1][0]) + 0.01]
    slowest = load.percentiles.get("max")
    if isinstance(slowest, int | float) and math.isfinite(slowest):  # the slowest request, half a step right
        xy.append((xy[-1][0] + 0.5, float(slowest)))
        ticks.append((xy[-1][0], "max"))
    series = Series("latency", xy)
    limits = [(name, limit) for name, limit in load.thresholds.items() if re.fullmatch(r"(max_)?p\d+(\.\d+)?_ms", name)]
    # a limit far above every measurement would flatten the curve to the axis: it is named in the title instead
    top = max(val for _, val in xy)
    rules = [Rule(limit, f"{name} ≤ {fmt(limit)} ms") for name, limit in limits if limit <= 3 * top]
    far = [f"{name} ≤ {fmt(limit)} ms" for name, limit in limits if limit > 3 * top]
    title = "Latency percentile distribution" + (f" (limits {', '.join(far)}: far above)" if far else "")
    return line_chart([series], title=title, chart_id="chart-load-percentiles",
                      x=Axis("percentile", ticks=ticks), y=Axis("latency (ms)", unit=" ms"), rules=rules)


def _throughput_chart(history: list[HistoryPoint]) -> str:
    """Requests and errors per second over the run (the load stage counts both per second)."""
    if not history:
        return ""
    start = history[0].t
    rps = _per_second([(float(row.t - start), float(row.requests)) for row in history])
    errors = _per_second([(float(row.t - start), float(row.failures)) for row in history])
    series = [Series("requests/s", rps)]
    if any(y > 0 for _, y in errors):
        series.append(Series("errors/s", errors, color="#dc2626"))
    return line_chart(series, title="Throughput over time", chart_id="chart-load-throughput",
                      x=Axis("time since start (s)"), y=Axis("requests per second", unit=" req/s"))


PER_REQUEST_COLUMNS = ("requests", "failures", "error_rate", "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms")


def _per_request(per_request: dict[str, RequestStats]) -> str:
    columns = [c for c in PER_REQUEST_COLUMNS if any(getattr(stats, c) is not None for stats in per_request.values())]
    head = "".join(f'<th class="num">{escape(c)}</th>' for c in columns)
    rows = []
    for name, stats in per_request.items():
        cells = "".join(f'<td class="num">{escape(_scalar(getattr(stats, c)))}</td>' for c in columns)
        rows.append(f"<tr><td><code>{escape(name)}</code></td>{cells}</tr>")
    return f'<table class="per-request"><tr><th>request</th>{head}</tr>{"".join(rows)}</table>'


def _stages(v: Verdict, images: _Inliner) -> str:
    out = ['<h2 id="stages">Stages</h2>']
    for stage in v.stages:
        out.append(_stage_table(stage, images))
    if not v.stages:
        out.append('<p class="muted">No stage ran.</p>')
    return "\n".join(out)


def _stage_table(stage: StageResult, images: _Inliner) -> str:
    failed = len(stage.failed_checks)
    head = (f'<div class="stage-head" id="stage-{escape(stage.name)}"><h3>{escape(stage.name)}</h3>'
            f'<span class="badge {escape(stage.status)}">{escape(stage.status)}</span>'
            f'<span class="muted">{len(stage.checks)} checks, {failed} failed, {stage.duration_s:.1f} s'
            f'{" · " + escape(stage.message) if stage.message else ""}</span></div>')
    if not stage.checks:
        return head
    rows = []
    for c in stage.checks:
        status = shown_status(c).split(" ")[0]
        extra = "".join(_evidence(c.evidence, images, inline=False)) if c.evidence and c.status != "failed" else ""
        link = (f'<a href="#check-{_anchor(stage.name, c.id)}">{escape(c.id)}</a>' if c.status == "failed"
                else escape(c.id))
        rows.append(f'<tr class="row-{escape(status)}" data-check="{escape(c.id)}"><td>'
                    f'<span class="badge {escape(status)}">{escape(status)}</span></td><td><code>{link}</code></td>'
                    f'<td class="num">{c.attempts}</td><td class="num">{c.duration_ms:.0f} ms</td>'
                    f'<td class="msg">{escape(_short(c.message))}{extra}</td></tr>')
    table = ('<table class="stage"><tr><th>status</th><th>check</th><th class="num">attempts</th>'
             f'<th class="num">time</th><th>message</th></tr>{"".join(rows)}</table>')
    details = stage.details  # load's figures (verdict.load) have their own section
    more = (f"<details><summary>{escape(stage.name)} stage details</summary><pre>{escape(_pretty(details))}</pre>"
            "</details>") if details else ""
    return head + table + more


def _rollback(v: Verdict) -> str:
    rb = v.rollback
    out = ['<h2 id="rollback">Rollback</h2>']
    if not rb.triggered:
        out.append(f'<p class="rollback-result">Not triggered: {escape(rb.message or "the gate passed")}.</p>')
        return "\n".join(out)
    verified = {True: ('ok', "verified: health restored"), False: ("broken", "NOT verified: a human must act"),
                None: ("warn", "not verified")}[rb.verified]
    rows = [("command", f"<code>{escape(' '.join(rb.command or []))}</code>"),
            ("exit code", escape("timed out" if rb.exit_code is None else str(rb.exit_code))),
            ("took", escape("n/a" if rb.duration_s is None else f"{rb.duration_s:.1f} s")),
            ("result", f'<span class="badge {verified[0]}">{escape(verified[1])}</span>'),
            ("message", escape(rb.message))]
    out.append('<table class="rollback-result">' + "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
               + "</table>")
    if rb.output:
        out.append(f"<details><summary>rollback output</summary><pre>{escape(rb.output)}</pre></details>")
    return "\n".join(out)


def _rollout(r: RolloutReport) -> str:
    """synthgate rollout: each step, both versions side by side, where it stopped and the way back."""
    stopped = r.stopped_at
    where = (f"stopped at step {stopped.step} ({stopped.percent} %)" if stopped
             else "promoted to 100 %" if r.promoted else r.outcome)
    out = ['<h2 id="rollout">Rollout</h2>',
           f"<p><code>{escape(r.new)}</code> replacing <code>{escape(r.old)}</code>: "
           f"<strong>{escape(r.outcome)}</strong>, {escape(where)}</p>",
           '<table class="rollout"><tr><th>step</th><th class="num">percent</th><th>status</th>'
           "<th>new</th><th>old</th></tr>"]
    for step in r.steps:
        out.append(f"<tr><td>{step.step}</td><td class=\"num\">{step.percent}</td>"
                   f"<td>{escape(step.status)}</td><td>{escape(_rollout_side(step, 'new'))}</td>"
                   f"<td>{escape(_rollout_side(step, 'old'))}</td></tr>")
    out.append("</table>")
    failures = [f"step {s.step}: {f}" for s in r.steps for f in s.failed or []]
    if failures:
        out.append("<ul>" + "".join(f"<li>{escape(_short(f))}</li>" for f in failures) + "</ul>")
    back = r.split_back
    if back:
        verification = r.verification.status if r.verification else None
        out.append(f"<p>Split back: <code>{escape(' '.join(back.command))}</code>, exit "
                   f"{escape(str(back.exit_code))}; verification: {escape(str(verification))}</p>")
    out.append(f"<p>Data: {escape(r.data.message)}</p>")
    return "\n".join(out)


def _rollout_side(step: RolloutStepReport, label: Literal["new", "old"]) -> str:
    """One version's cell of a rollout step: its side-by-side figures, else (step 0) the pinned gate's verdict."""
    fig = step.side_by_side
    if fig:
        s = fig.new if label == "new" else fig.old
        return f"P50 {s.p50_ms} ms, P95 {s.p95_ms} ms, {s.errors} errors of {s.requests}"
    return f"gate pinned: {step.gate.verdict}" if step.gate and label == "new" else ""


def _baseline(baseline: BaselineComparison) -> str:
    release = baseline.release
    out = ['<h2 id="baseline">What changed since the baseline</h2>',
           (f"<p>Compared with release <code>{escape(str(release))}</code> " if release else "<p>Compared with ")
           + f"({escape(baseline.source)})</p>"]
    if baseline.summary:
        out.append(f"<p>{escape(baseline.summary)}</p>")
    if baseline.metrics:
        rows = []
        for m in baseline.metrics:
            cls = "broken" if m.decision == "regression" else "ok"
            rows.append(f"<tr><td>{escape(m.name)}</td><td class=\"num\">{escape(_scalar(m.before))}"
                        f"</td><td class=\"num\">{escape(_scalar(m.after))}</td>"
                        f"<td class=\"num\">{escape(m.change)}</td>"
                        f"<td class=\"num\">{escape(_scalar(m.p_value))}</td>"
                        f'<td><span class="badge {cls}">{escape(m.decision)}</span></td></tr>')
        out.append('<table class="baseline-metrics"><tr><th>metric</th><th class="num">before</th>'
                   '<th class="num">after</th><th class="num">change</th><th class="num">p-value</th>'
                   "<th>decision</th></tr>" + "".join(rows) + "</table>")
        charts = [_distribution_chart(m, i) for i, m in enumerate(baseline.metrics)]
        if any(charts):
            out.append('<div class="charts">' + "".join(c for c in charts if c) + "</div>")
    for items, title in ((baseline.regressions, "Regressions"), (baseline.pre_existing, "Pre-existing failures")):
        if items:
            out.append(f"<p><strong>{title}:</strong> " + ", ".join(f"<code>{escape(i)}</code>" for i in items)
                       + "</p>")
    return "\n".join(out)


def _distribution_chart(metric: BaselineMetric, index: int) -> str:
    """Before/after percentile curves of one compared latency metric (its P50 and P95 each side)."""
    series = []
    for side, values, color, dashed in (("before", metric.before, "#6b7280", True),
                                        ("after", metric.after, "#2563eb", False)):
        points = sorted((p, float(x)) for k, x in values.items() if (p := _percent(k)) is not None and 0 < p <= 100)
        if len(points) >= 2:
            series.append(Series(side, [(nines(p), val) for p, val in points], color=color, dashed=dashed))
    if len(series) < 2:
        return ""
    top = max(p[0] for s in series for p in s.points)
    ticks = [(nines(p), _plabel(p)) for p in (50, 90, 99, 99.9) if nines(p) <= top + 0.01]
    return line_chart(series, title=f"{metric.name}: before and after", chart_id=f"chart-baseline-{index}",
                      x=Axis("percentile", ticks=ticks), y=Axis("latency (ms)", unit=" ms"))


def _artefacts(reports_dir: Path | None) -> str:
    """Links to the other reports and stage artefacts beside this page (relative: nothing is fetched)."""
    if reports_dir is None or not reports_dir.is_dir():
        return ""
    names = ["summary.md", "verdict.json", "junit.xml"]
    links = [n for n in names if (reports_dir / n).is_file()]
    for sub in ("load", "e2e", "fuzz"):
        folder = reports_dir / sub
        if folder.is_dir():
            links += sorted(str(p.relative_to(reports_dir)) for p in folder.rglob("*")
                            if p.is_file() and p.suffix in (".html", ".csv", ".json", ".zip"))[:40]
    if not links:
        return ""
    items = "".join(f'<li><a href="{escape(quote(n))}">{escape(n)}</a></li>' for n in links)
    return f'<h2 id="artefacts">Artefacts</h2><ul class="artefacts">{items}</ul>'


# --- helpers ----------------------------------------------------------------------------------------------------

def _anchor(stage: str, check_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{stage}-{check_id}").strip("-")


def _pretty(value: Any, limit: int = 20000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_scalar(x)}" for k, x in value.items() if not isinstance(x, dict | list))
    if isinstance(value, list):
        return f"{len(value)} values"
    return str(value)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


def _percent(key: Any) -> float | None:
    """50 from "50", "p50", "P50", "50%", "p99.9", "50.0"; None when the key names no percentile."""
    m = re.fullmatch(r"[pP]?(\d+(?:\.\d+)?)%?(?:_ms)?", str(key).strip())
    return float(m.group(1)) if m else None


def _plabel(p: float) -> str:
    return f"P{fmt(p)}"


def _per_second(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counts per interval as rates: each count over the time since the previous row (1 s for the first)."""
    out, previous = [], None
    for t, count in points:
        span = t - previous if previous is not None and t > previous else 1.0
        out.append((t, count / span))
        previous = t
    return out
