"""Findings with a severity (fail, warn, off) turned into one check outcome: warnings never fail the gate."""

from __future__ import annotations

from collections.abc import Iterable

from synthgate.checks.outcome import Outcome
from synthgate.http import Exchange

WARNING_PREFIX = "warning: "


def judge(findings: list[tuple[str, str]], exchanges: list[Exchange] | None = None, ok_message: str = "ok",
          curl: str | None = None) -> Outcome:
    """Fail on any `fail` finding; pass with a "warning: ..." message on `warn` ones; `off` ones are dropped."""
    exchanges = exchanges or []
    failures = _unique(m for s, m in findings if s == "fail")
    warnings = _unique(m for s, m in findings if s == "warn")
    if failures:
        message = "; ".join(failures) + (f" (also warnings: {'; '.join(warnings)})" if warnings else "")
        return Outcome(ok=False, message=message, kind="assertion", exchanges=exchanges,
                       curl=curl or (exchanges[-1].curl() if exchanges else None))
    if warnings:
        return Outcome(ok=True, message=WARNING_PREFIX + "; ".join(warnings), exchanges=exchanges)
    return Outcome(ok=True, message=ok_message, exchanges=exchanges)


def warnings_of(outcome: Outcome) -> list[str]:
    """The warnings a passing outcome carries (empty for a failure or a clean pass)."""
    if outcome.ok and outcome.message.startswith(WARNING_PREFIX):
        return outcome.message.removeprefix(WARNING_PREFIX).split("; ")
    return []


def _unique(messages: Iterable[str]) -> list[str]:
    out: list[str] = []
    for message in messages:
        if message not in out:
            out.append(message)
    return out
