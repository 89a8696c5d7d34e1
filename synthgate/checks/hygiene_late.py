"""Hygiene over what the later stages saw: the cookie items and `cache_private` judged once more after the last
stage, over the seen-answers ledger's lines no earlier judgement looked at (the fuzz stage's answers, the load
stage's: each virtual user's first answer to each task, with and without cookies; anything recorded after the last
stage that judged the ledger: smoke's hygiene items, the journeys' hygiene checks).

A cookie set without HttpOnly only by a POST answered to bad input, or a credentialed answer cached publicly that
only a fuzz or load request reached, is never in the smoke stage's view: it runs before them. This late
judgement reports it under the same check ids (`hygiene:cookie-httponly`, ...), in a stage of its own
(`hygiene`), each finding naming the request and the check or task that got it. A finding an earlier judgement
already had (same finding, method and path) is not reported twice. Bounded by the ledger's own bound
(seen.MAX_LINES lines per process).
"""

from __future__ import annotations

import time
from typing import Any

from synthgate.checks import hygiene, seen
from synthgate.checks.findings import judge, warnings_of
from synthgate.profile.model import Profile
from synthgate.results import CheckResult, StageResult

STAGE = "hygiene"
SHOWN = 5  # requests named per finding in a message; every finding is in the details


def mark() -> int:
    """Where the lines no judgement has looked at yet start: call after a stage that judged the ledger."""
    return len(seen.read())


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item.get("method", "?")), str(item.get("path", "?"))


def judge_item(profile: Profile, item: str, judged: list[dict[str, Any]], new: list[dict[str, Any]]) -> CheckResult:
    """One hygiene item over the new ledger lines, leaving out findings the judged lines already had."""
    started = time.perf_counter()
    known = {(finding, _key(line)) for line, answer in zip(judged, hygiene.seen_answers(judged), strict=True)
             for finding in hygiene.item_findings(item, answer, profile.hygiene)}
    where: dict[str, list[str]] = {}
    keys: list[str] = []
    for line, answer in zip(new, hygiene.seen_answers(new), strict=True):
        for finding in hygiene.item_findings(item, answer, profile.hygiene):
            if (finding, _key(line)) in known:
                continue
            labels = where.setdefault(finding, [])
            if len(labels) < SHOWN and answer.label not in labels:
                labels.append(answer.label)
            keys.append(f"{finding} on {' '.join(_key(line))}")
    severity = getattr(profile.hygiene, item)
    outcome = judge([(severity, f"{finding} on {', '.join(labels)}") for finding, labels in where.items()], [],
                    ok_message=f"ok on the {len(new)} cookie-setting or credentialed answer(s) seen after the "
                               "earlier hygiene judgements")
    check = CheckResult(id=f"hygiene:{hygiene.ITEMS[item]}", status="passed" if outcome.ok else "failed",
                        kind=None if outcome.ok else "assertion", message=outcome.message,
                        warnings=warnings_of(outcome),
                        duration_ms=max(0.001, round((time.perf_counter() - started) * 1000, 3)),
                        details={"answers": len(new), "judged_before": len(judged)})
    if not outcome.ok:  # one finding per answer, so `new_only` can tell a new one from existing debt (debt.py)
        check.details["findings"] = sorted(set(keys))
    return check


def stage(profile: Profile, judged_up_to: int) -> StageResult | None:
    """The late judgement over the ledger lines from `judged_up_to` on; None when there are none, or no cookie or
    cache item is on."""
    items = hygiene.seen_items(profile)
    if not items:
        return None
    lines = seen.read()
    judged, new = lines[:judged_up_to], lines[judged_up_to:]
    if not new:
        return None
    started = time.perf_counter()
    checks = [judge_item(profile, item, judged, new) for item in items]
    failed = sum(c.status == "failed" for c in checks)
    message = (f"{len(new)} answer(s) seen after the earlier hygiene judgements: "
               + (f"{failed} item(s) failed" if failed else "every cookie and cache item holds"))
    return StageResult.from_checks(STAGE, checks, time.perf_counter() - started, message=message)
