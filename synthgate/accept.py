"""Accepted defects: the one place that decides whether a failed check is `accepted` (profile `accept:` entries).

A failed check whose id matches an entry's glob (and, when set, whose message the entry's pattern finds) becomes
`accepted` until the entry's `until` date (inclusive): neither pass nor fail, listed in every report with the
reason. After that date it stays failed and its message says the acceptance expired. Only evidence is accepted:
an unreachable target, missing data or a tool error is never set aside. Entries that matched no failure in a run
are stale (the defect is gone, or the glob is wrong): the reports list them so debts get cleaned up.
Gates (synthgate/gate.py) and probes (synthgate/probe/jobs.py) both judge through `Acceptances`.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable

from synthgate.profile.accept import Acceptance
from synthgate.results import AcceptanceNote, CheckResult, StageResult, StaleAcceptance

EXPIRED = "acceptance expired"


class Acceptances:
    """The profile's `accept:` entries for one run, and which of them matched a failure."""

    def __init__(self, entries: Iterable[Acceptance], today: dt.date | None = None) -> None:
        self.entries = list(entries)
        self.today = today or dt.date.today()
        self.used: set[int] = set()

    def entry_for(self, check: CheckResult) -> Acceptance | None:
        """The first entry matching a failed check (by id glob and message pattern), or None."""
        if not check.is_evidence_failure:
            return None
        for n, entry in enumerate(self.entries):
            if not fnmatch.fnmatchcase(check.id, entry.check):
                continue
            if entry.message is not None and not re.search(entry.message, check.message):
                continue
            self.used.add(n)
            return entry
        return None

    def judge(self, check: CheckResult) -> str | None:
        """Mark a matching failed check `accepted` (or expired); returns a line for the console, None if untouched."""
        entry = self.entry_for(check)
        if entry is None:
            return None
        note = AcceptanceNote(check=entry.check, reason=entry.reason, until=entry.until.isoformat()).model_dump()
        if entry.until >= self.today:
            check.status = "accepted"
            check.details["accepted"] = note
            return f"accepted {check.id}: {entry.reason} (until {entry.until.isoformat()}): {check.message[:160]}"
        check.details["acceptance_expired"] = note
        check.message = f"{EXPIRED} on {entry.until.isoformat()} ({entry.reason}): {check.message}"
        return f"FAIL {check.id}: {EXPIRED} on {entry.until.isoformat()} ({entry.reason})"

    def judge_stage(self, stage: StageResult) -> list[str]:
        """Judge every check of a stage and settle the stage's status; the console lines of what changed."""
        lines = [line for check in stage.checks if (line := self.judge(check)) is not None]
        if lines:
            stage.settle()
        return lines

    def stale(self) -> list[StaleAcceptance]:
        """The entries that matched no failing check in this run."""
        return [StaleAcceptance(check=e.check, reason=e.reason, until=e.until.isoformat(),
                                note="matched no failing check in this run: the defect is gone (remove the entry) "
                                     "or the glob names no check")
                for n, e in enumerate(self.entries) if n not in self.used]
