"""Small inline-SVG charts for report.html: no JavaScript, no fonts or files from anywhere else."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
STATUS_COLOR = {"passed": "#16a34a", "failed": "#dc2626", "skipped": "#9ca3af", "flaky": "#d97706"}


@dataclass
class Series:
    """One line of a line chart: (x, y) points, a name for the legend and an optional colour."""

    name: str
    points: list[tuple[float, float]]
    color: str | None = None
    dashed: bool = False


@dataclass
class Rule:
    """A horizontal reference line (a threshold or a budget)."""

    y: float
    label: str
    color: str = "#dc2626"


@dataclass
class Axis:
    """How an axis is labelled: a title, and optional fixed ticks (value, label)."""

    title: str = ""
    ticks: list[tuple[float, str]] = field(default_factory=list)
    unit: str = ""


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 × 10^n steps)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:  # the top tick must cover the data, or points would be drawn above the plot
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def fmt(value: float) -> str:
    """A short number for tick labels."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def line_chart(series: Sequence[Series], *, title: str, x: Axis, y: Axis, rules: Sequence[Rule] = (),
               width: int = 640, height: int = 280, chart_id: str = "") -> str:
    """A line chart with markers, axes, optional threshold rules and a legend, as one <svg> element."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return _empty(title, width, "no data", chart_id)
    left, right, top, bottom = 60, 16, 46, 44
    xs = [p[0] for s in drawn for p in s.points] + [t[0] for t in x.ticks]
    ys = [p[1] for s in drawn for p in s.points] + [r.y for r in rules]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_ticks = nice_ticks(0.0, max(ys) * 1.08 if max(ys) > 0 else 1.0)
    y_hi = y_ticks[-1] or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(value: float) -> float:
        return left + (value - x_lo) / (x_hi - x_lo) * plot_w

    def py(value: float) -> float:
        return top + plot_h - (value / y_hi) * plot_h

    parts = [_open(width, height, title, chart_id), _title(title, width)]
    for tick in y_ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" '
                     f'stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end" class="tick">'
                     f'{escape(fmt(tick))}</text>')
    x_ticks = x.ticks or [(t, fmt(t)) for t in nice_ticks(x_lo, x_hi, 6) if x_lo <= t <= x_hi]
    for value, label in x_ticks:
        parts.append(f'<line x1="{px(value):.1f}" x2="{px(value):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" '
                     f'stroke="#6b7280"/>')
        parts.append(f'<text x="{px(value):.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
                     f'{escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#6b7280"/>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#6b7280"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" class="axis">'
                 f'{escape(x.title)}</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" class="axis" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y.title)}</text>')
    for rule in rules:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(rule.y):.1f}" y2="{py(rule.y):.1f}" '
                     f'stroke="{rule.color}" stroke-dasharray="6 4" class="rule"/>')
        parts.append(f'<text x="{width - right - 4}" y="{py(rule.y) - 4:.1f}" text-anchor="end" class="rule-label" '
                     f'fill="{rule.color}">{escape(rule.label)}</text>')
    for index, s in enumerate(drawn):
        color = s.color or PALETTE[index % len(PALETTE)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in s.points)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash} '
                     f'class="series" data-series="{escape(s.name)}"/>')
        if len(s.points) <= 60:  # markers carry the exact values as tooltips
            for a, b in s.points:
                parts.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{color}">'
                             f'<title>{escape(s.name)}: {escape(fmt(b))}{escape(y.unit)}</title></circle>')
    parts += _legend([(s.name, s.color or PALETTE[i % len(PALETTE)]) for i, s in enumerate(drawn)], left, width)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float, str]], *, title: str, unit: str = "ms",
              rules: Sequence[Rule] = (), width: int = 640, chart_id: str = "") -> str:
    """Horizontal bars (label, value, status), coloured by status, with optional budget rules."""
    if not bars:
        return _empty(title, width, "no data", chart_id)
    row, left, right, top = 18, 230, 60, 30
    height = top + row * len(bars) + 28
    hi = max([v for _, v, _ in bars] + [r.y for r in rules] + [1e-9])
    ticks = nice_ticks(0.0, hi)
    scale = ticks[-1] or 1.0
    plot_w = width - left - right

    def px(value: float) -> float:
        return left + value / scale * plot_w

    parts = [_open(width, height, title, chart_id), _title(title, width)]
    bottom = top + row * len(bars)
    for tick in ticks:
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" y2="{bottom}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{px(tick):.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">'
                     f'{escape(fmt(tick))}</text>')
    for index, (label, value, status) in enumerate(bars):
        y = top + index * row
        color = STATUS_COLOR.get(status, PALETTE[0])
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="label">{escape(short)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{max(px(value) - left, 1):.1f}" height="{row - 6}" '
                     f'fill="{color}" class="bar bar-{escape(status)}"><title>{escape(label)}: '
                     f'{escape(fmt(value))} {escape(unit)} ({escape(status)})</title></rect>')
        parts.append(f'<text x="{px(value) + 4:.1f}" y="{y + 13}" class="tick">{escape(fmt(value))}</text>')
    for rule in rules:
        parts.append(f'<line x1="{px(rule.y):.1f}" x2="{px(rule.y):.1f}" y1="{top - 4}" y2="{bottom}" '
                     f'stroke="{rule.color}" stroke-dasharray="6 4" class="rule"/>')
        parts.append(f'<text x="{px(rule.y) + 3:.1f}" y="{top - 6}" class="rule-label" fill="{rule.color}">'
                     f'{escape(rule.label)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" class="axis">'
                 f'{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def nines(percentile: float) -> float:
    """The position of a percentile on a 'nines' axis: 90 → 1, 99 → 2, 99.9 → 3 (HDR-style plots)."""
    return -math.log10(max(1e-6, 1 - min(percentile, 99.9999) / 100))


def _open(width: int, height: int, title: str, chart_id: str) -> str:
    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" aria-label="{escape(title)}">')


def _title(title: str, width: int) -> str:
    return f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" class="chart-title">{escape(title)}</text>'


def _legend(entries: list[tuple[str, str]], left: int, width: int) -> list[str]:
    parts = []
    x = left + 8
    for name, color in entries:
        parts.append(f'<rect x="{x}" y="27" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14}" y="36" class="legend">{escape(name)}</text>')
        x += 24 + 7 * len(name)
        if x > width - 80:
            break
    return parts


def _empty(title: str, width: int, why: str, chart_id: str) -> str:
    return (_open(width, 60, title, chart_id) + _title(title, width)
            + f'<text x="{width / 2:.0f}" y="42" text-anchor="middle" class="tick">{escape(why)}</text></svg>')
