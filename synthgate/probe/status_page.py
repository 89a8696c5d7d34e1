"""The status page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched from elsewhere)."""

from __future__ import annotations

import os
import tempfile
import time
from html import escape
from pathlib import Path

from synthgate.probe.alerts import human_duration, iso
from synthgate.probe.report import STALE_FACTOR, CheckReport, ProbeReport, age, build, fmt_ms
from synthgate.redact import redactor
from synthgate.store import CheckState, Store

MAX_BUCKETS = 60
MIN_SPAN_S = 10.0
MAX_SPAN_S = 30 * 86400.0
LATENCY_SPAN_S = 86400.0  # P50/P95 of the page cover the last 24 h (incidents: 30 days)
GREEN, AMBER, RED, GREY, BLUE = "#16a34a", "#d97706", "#dc2626", "#d1d5db", "#2563eb"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.banner{padding:14px 18px;border-radius:8px;color:#fff;font-weight:600;margin:16px 0}
.up{background:#16a34a}.down{background:#dc2626}.nodata{background:#64748b}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e2e8f0}
th,td{padding:6px 8px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.bad{color:#dc2626}.nw{white-space:nowrap}
.state-UP{color:#16a34a;font-weight:600}.state-DOWN{color:#dc2626;font-weight:700}
.state-other{color:#d97706;font-weight:600}.muted{color:#64748b}
.check{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;margin:10px 0}
.check h3{font-size:15px;margin:0 0 6px}svg{display:block;max-width:100%}
.msg{font-family:ui-monospace,monospace;font-size:12px;color:#475569;word-break:break-word}
"""


def _state_class(label: str) -> str:
    return "state-UP" if label == "UP" else "state-DOWN" if label.startswith("DOWN") else "state-other"


def _span(store: Store, profile: str, location: str, now: float, interval: float) -> tuple[float, int]:
    """The charts' time span (the history there is, up to 30 days) and their bucket count (a bucket >= interval)."""
    found = store.first_result_ts(profile, location, now - MAX_SPAN_S)
    first = found if found is not None else now
    span = min(MAX_SPAN_S, max(MIN_SPAN_S, interval, now - float(first)))
    return span, max(1, min(MAX_BUCKETS, int(span / max(interval, 1e-3))))


def _tick(ts: float, span: float) -> str:
    """A short time label: 08:39:41Z within a day, 11-25 08:39Z beyond."""
    text = iso(ts) or ""
    return text[11:19] + "Z" if span <= 86400 else text[5:10] + " " + text[11:16] + "Z"


Bucket = tuple[int, int, float | None]  # (up, down, mean latency ms) of one time slice


def latency_svg(buckets: list[Bucket], start: float, end: float, width: int = 900, height: int = 110) -> str:
    """Latency over time: the mean of each time bucket as a line, buckets with failed runs as red bands."""
    n = max(1, len(buckets))
    pad_l, pad_b, pad_t = 52, 18, 8
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    bucket_s = (end - start) / n
    means = [(i, lat) for i, (_up, _down, lat) in enumerate(buckets) if lat is not None]
    label = f"latency, last {human_duration(end - start)}"
    if not means:
        return (f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(label)}: no data">'
                f'<text x="{pad_l}" y="{height // 2}" fill="#64748b">no latency data yet</text></svg>')
    top = max(v for _, v in means) * 1.15 or 1.0

    def x(i: float) -> float:
        return pad_l + (i + 0.5) * plot_w / n

    def y(v: float) -> float:
        return pad_t + plot_h - v / top * plot_h

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>']
    for frac in (0.0, 0.5, 1.0):
        yy = y(top * frac)
        parts.append(f'<line x1="{pad_l}" x2="{width - 8}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{pad_l - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end" fill="#64748b">'
                     f'{fmt_ms(top * frac)}</text>')
    for i, (_up, down, _lat) in enumerate(buckets):
        if down:
            parts.append(f'<rect x="{x(i) - plot_w / n / 2:.1f}" y="{pad_t}" width="{plot_w / n:.1f}" '
                         f'height="{plot_h}" fill="{RED}" opacity="0.18"/>')
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in means)
    parts.append(f'<polyline points="{points}" fill="none" stroke="{BLUE}" stroke-width="1.6"/>')
    for i, v in means:
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="1.8" fill="{BLUE}">'
                     f'<title>{escape(iso(start + i * bucket_s) or "")}: mean {fmt_ms(v)}</title></circle>')
    span = end - start
    parts.append(f'<text x="{pad_l}" y="{height - 4}" font-size="10" fill="#64748b">{_tick(start, span)}</text>'
                 f'<text x="{width - 8}" y="{height - 4}" font-size="10" fill="#64748b" text-anchor="end">'
                 f'{_tick(end, span)}</text></svg>')
    return "".join(parts)


def uptime_svg(buckets: list[Bucket], start: float, end: float, slo: float, width: int = 900,
               height: int = 34) -> str:
    """Uptime per time bucket as bars: green at 100 %, amber down to the SLO, red below it, grey without data."""
    n = max(1, len(buckets))
    bucket_s = (end - start) / n
    bar_w = width / n
    label = f"uptime, last {human_duration(end - start)}"
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>']
    for i, (up, down, _lat) in enumerate(buckets):
        geometry = f'x="{i * bar_w + 0.5:.1f}" y="2" width="{max(1.0, bar_w - 1.5):.1f}" height="{height - 4}" rx="1.5"'
        total = up + down
        if total == 0:  # no tooltip: keeps the page small
            parts.append(f'<rect {geometry} fill="{GREY}"/>')
            continue
        pct = 100.0 * up / total
        color = GREEN if pct >= 100 else AMBER if pct >= slo else RED
        text = f"{pct:.2f} % ({down} failed of {total})"
        parts.append(f'<rect {geometry} fill="{color}"><title>{escape(iso(start + i * bucket_s) or "")}: '
                     f'{escape(text)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _check_row(c: CheckReport, slo: float, now: float) -> str:
    label = c.label
    cells = [f"<td>{escape(c.check_id)}</td>", f'<td class="{_state_class(label)} nw">{escape(label)}</td>']
    for name in ("24h", "7d", "30d"):
        uptime = c.windows[name].uptime
        cells.append(f'<td class="num">{"-" if uptime is None else f"{uptime:.3f}%"}</td>')
    budget = c.windows["30d"].budget_left(slo)
    budget_text = "-" if budget is None else "exhausted" if budget <= 0 else f"{budget:.1f}%"
    cells.append(f'<td class="num{" bad" if budget is not None and budget <= 0 else ""}">{budget_text}</td>')
    cells.append(f'<td class="num">{fmt_ms(c.p50_ms)}</td><td class="num">{fmt_ms(c.p95_ms)}</td>')
    cells.append(f'<td class="muted nw">{escape(age(c.state.last_ts if c.state else None, now))}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _location_label(s: CheckState | None, now: float, window_s: float) -> str:
    if s is None:
        return "-"
    if s.last_ts is not None and now - s.last_ts > window_s:
        return "stale"
    if s.down:
        return "DOWN"
    return {"up": "UP", "down": f"failing ({s.consecutive_failures})", "unknown": "no data"}.get(
        s.last_outcome or "", "-")


def locations_table(everywhere: dict[str, dict[str, CheckState]], checks: list[str], now: float,
                    window_s: float) -> str:
    """Each location's view of each check (the probes of every location share the store)."""
    if not everywhere:
        return '<p class="muted">No location has reported yet.</p>'
    head = "".join(f"<th>{escape(c)}</th>" for c in checks)
    rows = []
    for loc in sorted(everywhere):
        cells = []
        for c in checks:
            label = _location_label(everywhere[loc].get(c), now, window_s)
            cells.append(f'<td class="{_state_class(label)} nw">{escape(label)}</td>')
        rows.append(f"<tr><td class=\"nw\">{escape(loc)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>location</th>{head}</tr>{''.join(rows)}</table>"


def render(report: ProbeReport, buckets: dict[str, list[Bucket]], span_s: float, n: int = MAX_BUCKETS,
           locations: str = "") -> str:
    """The status page HTML for a report and each check's time buckets over the last `span_s`."""
    now = report.generated_at
    start = now - span_s
    where = report.profile + (f" ({report.location})" if report.location != "default" else "")
    if report.open_incident is not None:
        inc = report.open_incident
        banner = (f'<div class="banner down">DOWN since {escape(iso(inc.started_at) or "")} '
                  f'({escape(human_duration(now - inc.started_at))}): {escape(", ".join(inc.checks))}</div>')
    elif any(c.state is not None for c in report.checks):
        banner = '<div class="banner up">All checks operational</div>'
    else:
        banner = '<div class="banner nodata">No results yet</div>'
    rows = "".join(_check_row(c, report.slo, now) for c in report.checks)
    cards = []
    for c in report.checks:
        mine = buckets.get(c.check_id) or [(0, 0, None)] * n
        msg = c.state.last_message if c.state and c.state.last_outcome != "up" else ""
        cards.append(f'<div class="check"><h3>{escape(c.check_id)} <span class="{_state_class(c.label)}">'
                     f'{escape(c.label)}</span></h3>'
                     + (f'<div class="msg">{escape(msg)}</div>' if msg else "")
                     + uptime_svg(mine, start, now, report.slo) + latency_svg(mine, start, now) + "</div>")
    incidents = "".join(
        f"<tr><td>#{i.id}</td><td>{escape(iso(i.started_at) or '')}</td>"
        f"<td>{escape(iso(i.resolved_at) or 'open')}</td>"
        f"<td class=\"num\">{escape(human_duration((i.resolved_at or now) - i.started_at))}</td>"
        f"<td>{escape(', '.join(i.checks))}</td><td class=\"msg\">{escape(i.message[:300])}</td></tr>"
        for i in reversed(report.incidents))
    incident_table = (f"<table><tr><th>#</th><th>started</th><th>resolved</th><th>downtime</th><th>checks</th>"
                      f"<th>first failure</th></tr>{incidents}</table>" if incidents
                      else '<p class="muted">No incidents in this period.</p>')
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60"><title>Status: {escape(where)}</title><style>{CSS}</style></head>
<body><main>
<h1>Status: {escape(where)}</h1>
<div class="muted">{escape(report.base_url)} · SLO {report.slo:g} % · updated {escape(iso(now) or "")}</div>
{banner}
<h2>Checks</h2>
<table><tr><th>check</th><th>state</th><th>uptime 24 h</th><th>7 d</th><th>30 d</th><th>budget left (30 d)</th>
<th>P50 24 h</th><th>P95 24 h</th><th>last run</th></tr>{rows}</table>
<h2>Locations</h2>
{locations or '<p class="muted">One location.</p>'}
<h2>Incidents (last {escape(human_duration(MAX_SPAN_S))})</h2>
{incident_table}
<h2>History (last {escape(human_duration(span_s))})</h2>
{"".join(cards)}
<p class="muted">Written by synthgate probe. Uptime counts runs with evidence (passed or failed); P50/P95 over 24 h;
the latency line is the mean of each bar.</p>
</main></body></html>
"""
    return redactor(html)


def write(store: Store, profile: str, location: str, path: Path, now: float | None = None) -> Path:
    """Build the report and write the status page atomically (readers never see half a page)."""
    now = time.time() if now is None else now
    report = build(store, profile, location, since_s=LATENCY_SPAN_S, now=now)
    report.incidents = store.incidents(profile, since=now - MAX_SPAN_S)  # a month of the profile's incidents
    intervals = [float(v) for v in report.config.get("intervals", {}).values()] or [60.0]
    span, n = _span(store, profile, location, now, min(intervals))
    window = STALE_FACTOR * max(intervals) + float(report.config.get("timeout_s", 10))
    where = locations_table(store.all_check_states(profile), [c.check_id for c in report.checks], now, window)
    text = render(report, store.buckets(profile, location, now - span, span / n, n), span, n, where)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".status.", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # a page for web servers and colleagues to read (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
