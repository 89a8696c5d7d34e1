"""The fuzz run's pace and time: one request rate for the whole process, and the stage's time budget shared out
among its tests (a test's share for generating, a little more for shrinking a failure it found)."""

from __future__ import annotations

import threading
import time
import unittest

SHRINK_EXTRA_MIN_S, SHRINK_EXTRA_MAX_S = 2.0, 10.0  # shrinking time beyond a test's share
# The coverage phase is a small fixed set of cases (under a second on loopback): it still runs this long past the
# stage's budget when earlier tests spent it shrinking their failures, so a late test is measured, not "no data".
# Within the suite's hard limit (max_time_s + 60 s, synthgate/stages/fuzz.py), with room left to report.
COVERAGE_GRACE_S = 40.0


class Pacer:
    """At most `rps` requests per second, across every request and thread of the process."""

    def __init__(self, rps: float) -> None:
        self.interval = 1.0 / rps
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this request's slot."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class Budget:
    """The stage's time budget, shared out evenly among the tests that have not started yet."""

    def __init__(self, total_s: float, tests: int) -> None:
        self.deadline = time.monotonic() + total_s
        self.coverage_deadline = self.deadline + COVERAGE_GRACE_S
        self.left = max(1, tests)

    def next_share(self) -> tuple[float, float]:
        """(deadline for generating, deadline for shrinking a failure found) of the test that starts now."""
        now = time.monotonic()
        share = max(0.0, self.deadline - now) / self.left
        self.left = max(1, self.left - 1)
        # a failure found late still gets time to shrink; the stage's hard limit has a grace period for it
        return now + share, now + share + min(SHRINK_EXTRA_MAX_S, max(SHRINK_EXTRA_MIN_S, share))


class BudgetSpent(unittest.SkipTest):
    """The test's time share is spent: Hypothesis re-raises skips at once, so generation stops here."""
