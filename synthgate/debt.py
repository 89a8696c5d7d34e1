"""Existing debt versus regression for findings-style checks (`new_only` on `e2e.a11y`, `hygiene` and `links`).

Such a check lists its failing findings in `details.findings` (one stable text per violation and element, per
header and answer, per broken link). Judged `new_only`, it fails only on findings the previous passing run of the
profile did not have; the others are existing debt: the check passes, and every report counts the debt. With no
previous run to compare with (a first run, or `--baseline none`) every finding is the starting debt. The findings
stay in the check's details whatever its status, so the run, once stored, is the next run's comparison.
"""

from __future__ import annotations

from synthgate.profile.model import Profile
from synthgate.results import CheckResult, DebtCount, DebtNote, DebtSummary, StageResult, Verdict

SHOWN = 5  # findings named in a message; every one is in the details


def new_only(profile: Profile, stage: str, check: CheckResult) -> bool:
    """Whether this check is judged `new_only` by the profile."""
    if stage == "e2e" and check.id.endswith(".a11y"):
        return profile.e2e.a11y.new_only
    if stage in ("smoke", "hygiene") and check.id.startswith("hygiene:"):  # hygiene: the late judgement's stage
        return profile.hygiene.new_only
    if stage == "smoke" and check.id == "links":
        return profile.links.new_only
    return False


def enabled(profile: Profile) -> bool:
    """Whether any findings-style check of the profile is judged `new_only`."""
    return profile.e2e.a11y.new_only or profile.hygiene.new_only or profile.links.new_only


def _list(items: list[str]) -> str:
    return "; ".join(items[:SHOWN]) + (f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else "")


class Debt:
    """One run's judgement of `new_only` checks against the previous passing run (None: nothing to compare)."""

    def __init__(self, profile: Profile, previous: Verdict | None, source: str = "") -> None:
        self.profile = profile
        self.previous = previous
        self.source = source
        self.before: dict[tuple[str, str], set[str]] = {}
        if previous is not None:
            for stage, check in previous.all_checks():
                self.before[(stage, check.id)] = set(check.findings)
        self.rows: list[DebtCount] = []

    def judge(self, stage: str, check: CheckResult) -> str | None:
        """Split a failed `new_only` check's findings into new ones and debt; a line for the console, or None."""
        findings = check.findings
        if not findings or not check.is_evidence_failure or not new_only(self.profile, stage, check):
            return None
        if self.previous is None:
            new, existing = [], findings
        else:
            seen = self.before.get((stage, check.id), set())
            new = [f for f in findings if f not in seen]
            existing = [f for f in findings if f in seen]
        first = self.previous is None
        check.details["debt"] = DebtNote(existing=existing, new=new, first_run=first).model_dump()
        self.rows.append(DebtCount(stage=stage, check=check.id, existing=len(existing), new=len(new)))
        what = ("starting debt (no previous release to compare with)" if first
                else "existing debt (the previous release had it)")
        if new:
            check.message = (f"{len(new)} new finding(s) the previous release did not have: {_list(new)}"
                             + (f"; plus {len(existing)} {what}" if existing else ""))
            return (f"FAIL {check.id}: {len(new)} new finding(s) the previous release did not have"
                    + (f", {len(existing)} of {what}" if existing else ""))
        check.status = "passed"
        check.kind = None
        check.message = f"{len(existing)} finding(s) of {what}, none new: {_list(existing)}"
        return f"debt {check.id}: {len(existing)} finding(s) of {what}"

    def judge_stage(self, stage: StageResult) -> list[str]:
        """Judge every check of a stage and settle its status; the console lines of what changed."""
        lines = [line for check in stage.checks if (line := self.judge(stage.name, check)) is not None]
        if lines:
            stage.settle()
        return lines

    def summary(self) -> DebtSummary:
        """verdict.json's `debt` block: what was compared with, and the debt per check."""
        return DebtSummary(compared_with=self.source if self.previous is not None else None,
                           release=self.previous.release if self.previous is not None else None,
                           first_run=self.previous is None, existing=sum(r.existing for r in self.rows),
                           new=sum(r.new for r in self.rows), checks=self.rows)
