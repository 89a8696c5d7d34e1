"""The outcome of one attempt of a check, and the retry loop that turns attempts into a result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from synthgate.http import Exchange


@dataclass
class Outcome:
    """One attempt: passed or not, why, and the exchanges that show it."""

    ok: bool
    message: str = ""
    kind: str | None = None  # failure kind (see results.FailureKind)
    exchanges: list[Exchange] = field(default_factory=list)
    curl: str | None = None

    @classmethod
    def from_failures(cls, failures: list[str], exchanges: list[Exchange], kind: str = "assertion") -> Outcome:
        """Passed when no failure was found; else the failures joined, with the last request as curl."""
        if not failures:
            return cls(ok=True, message="ok", exchanges=exchanges)
        return cls(ok=False, message="; ".join(failures), kind=kind, exchanges=exchanges,
                   curl=exchanges[-1].curl() if exchanges else None)


@dataclass
class Attempted:
    """All attempts of a check."""

    final: Outcome
    attempts: int
    duration_ms: float
    history: list[Outcome]

    @property
    def flaky(self) -> bool:
        """Failed at least once, then passed."""
        return self.final.ok and self.attempts > 1


def run_with_retries(attempt: Callable[[], Outcome], retries: int, backoff_s: float) -> Attempted:
    """Run an attempt until it passes or retries run out, with exponential backoff between attempts."""
    history: list[Outcome] = []
    start = time.perf_counter()
    for n in range(retries + 1):
        if n:
            time.sleep(backoff_s * (2 ** (n - 1)))
        outcome = attempt()
        history.append(outcome)
        if outcome.ok:
            break
    return Attempted(final=history[-1], attempts=len(history),
                     duration_ms=(time.perf_counter() - start) * 1000, history=history)
