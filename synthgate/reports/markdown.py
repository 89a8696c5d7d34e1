"""summary.md: the human summary, readable as a CI step summary."""

from __future__ import annotations

from pathlib import Path

from synthgate.redact import redactor
from synthgate.results import BaselineComparison, CheckResult, DebtNote, RolloutReport, Verdict

BADGE = {"pass": "PASSED", "fail": "FAILED", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "error": "🛠️"}


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(verdict: Verdict) -> str:
    """The summary as Markdown."""
    v = verdict
    out = [f"# {ICON[v.verdict]} synthgate: {v.target} {BADGE[v.verdict]} (exit {v.exit_code})", ""]
    out.append(f"{v.reason}" if v.reason else "")
    out += ["", f"- target: `{v.base_url}`" + (f", release `{v.release}`" if v.release else ""),
            f"- started: {v.started_at}, took {v.duration_s:.1f} s", ""]
    if v.release_wait is not None:  # the wait for the new release to be live, before any stage judged
        out.insert(len(out) - 1, f"- release wait: {v.release_wait.summary()}")
    if v.verdict == "inconclusive" and any(c.kind == "unreachable" for _, c in v.failed_checks()):
        out += ["> **The runner could not reach the target.** No check got an answer: this says nothing about",
                "> the deployment. Check the runner's network, DNS and the base URL.", ""]
    if v.verdict == "error":
        rolled = ("it was rolled back only because `rollback.on` lists `error`" if v.rollback.triggered
                  else "nothing was rolled back for it")
        if v.rollout:  # synthgate rollout: the split back to the old version is the safe state, not a rollback
            rolled = ("the traffic split went back to the old version (the code rollback runs only when "
                      "`rollback.on` lists `error`)" if v.rollback.triggered else "no traffic was moved")
        out += ["> **synthgate could not judge this deployment.** Something broke in synthgate or in the team's",
                "> test code (a crashed stage or suite, a broken conftest.py or fixture), not in the deployment:",
                f"> this is no evidence against it, and {rolled}. Read `{v.log or 'logs/'}`",
                "> in the reports directory.", ""]
    if v.baseline:
        out += _baseline_section(v.baseline)
    if v.rollout:
        out += _rollout_section(v.rollout)
    out += ["## Stages", "", "| stage | status | checks | failed | accepted | flaky | time |",
            "|---|---|---|---|---|---|---|"]
    for s in v.stages:
        failed = len(s.failed_checks)
        flaky = sum(1 for c in s.checks if c.is_flaky)
        accepted = sum(1 for c in s.checks if c.status == "accepted")
        out.append(f"| {s.name} | {s.status} | {len(s.checks)} | {failed} | {accepted} | {flaky} | "
                   f"{s.duration_s:.1f} s |")
    out.append("")
    out += _accepted_section(v) + _debt_section(v)
    failed_checks = v.failed_checks()
    out += _contract_section(v)
    if failed_checks:
        out += ["## Failed checks", ""]
        for stage, c in failed_checks:
            out.append(f"### {stage} / `{c.id}`")
            out += ["", f"{c.message}", "", f"attempts: {c.attempts}, {c.duration_ms:.0f} ms"
                    + (f", kind: {c.kind}" if c.kind else ""), ""]
            if len(c.attempts_detail) > 1:  # each attempt apart: a retry may fail for another reason than the first
                out += [f"- attempt {a.attempt}: {'ok' if a.ok else _cell(a.message, 300)}"
                        + (f" (status {a.status})" if a.status is not None else "") for a in c.attempts_detail]
                out.append("")
            if c.curl:
                out += ["Reproduce:", "", "```sh", c.curl, "```", ""]
            for item in c.evidence:
                out.append(f"- evidence: [{item}]({item})")
            if c.evidence:
                out.append("")
    flaky_checks = v.flaky_checks()
    if flaky_checks:
        out += ["## Flaky checks (passed after a retry; not failing the gate)", ""]
        out += [f"- {stage} / `{c.id}`: passed on attempt {c.attempts}" for stage, c in flaky_checks]
        out.append("")
    after_5xx = [(stage, c) for stage, c in v.all_checks()
                 if c.status == "passed" and c.traffic is not None and c.traffic.server_errors]
    if after_5xx:  # not transport flakes: the deployment answered 5xx (see the server-error budget)
        out += ["## Passed only after a server error (5xx; counted in the server-error budget)", ""]
        out += [f"- {stage} / `{c.id}`: {c.traffic.server_errors} 5xx answer(s)"  # type: ignore[union-attr]
                for stage, c in after_5xx]
        out.append("")
    warned = [(stage, c) for stage, c in v.all_checks() if c.status == "passed" and c.warnings]
    if warned:
        out += ["## Warnings (reported, not failing the gate)", ""]
        out += [f"- {stage} / `{c.id}`: {_cell('; '.join(c.warnings), 400)}" for stage, c in warned]
        out.append("")
    if v.load is not None:
        out += _load_section(v)
    out += ["## Rollback", ""]
    rb = v.rollback
    if rb.triggered:
        out += [f"- command: `{' '.join(rb.command or [])}`", f"- exit code: {rb.exit_code}",
                f"- verified: {rb.verified}", f"- {rb.message}", ""]
    else:
        out += [f"- not triggered ({rb.message or 'gate passed'})", ""]
    out += ["## All checks", "", "| stage | check | status | attempts | time | message |", "|---|---|---|---|---|---|"]
    for stage, c in v.all_checks():
        status = shown_status(c)
        out.append(f"| {stage} | `{c.id}` | {status} | {c.attempts} | {c.duration_ms:.0f} ms | {_cell(c.message)} |")
    out.append("")
    return redactor("\n".join(out))


def shown_status(c: CheckResult) -> str:
    """A check's status as the reports show it: flaky, warn and debt apart from a clean pass; tool errors apart."""
    if c.status == "passed":
        if c.is_flaky:
            return "flaky"
        if c.debt is not None:
            return "passed (existing debt)"
        return "warn" if c.warnings or c.message.startswith("warning: ") else "passed"
    if c.status == "failed" and c.is_tool_error:
        return "error"
    return c.status


def _accepted_section(v: Verdict) -> list[str]:
    """Accepted defects (not failing until their date), expired acceptances and stale ones."""
    out: list[str] = []
    accepted = v.accepted_checks()
    if accepted:
        out += [f"## Accepted defects ({len(accepted)}; not failing the gate until their date)", ""]
        for stage, c in accepted:
            note = c.acceptance
            out.append(f"- {stage} / `{c.id}`: **accepted** until {note and note.until} "
                       f"({_cell(str(note and note.reason))}): {_cell(c.message, 300)}")
        out.append("")
    expired = [(s, c, note) for s, c in v.all_checks() if (note := c.expired_acceptance) is not None]
    if expired:
        out += ["## Expired acceptances (failing again)", ""]
        for stage, c, note in expired:
            out.append(f"- {stage} / `{c.id}`: the acceptance expired on {note.until} "
                       f"({_cell(note.reason)}); fix it or renew the entry")
        out.append("")
    if v.stale_acceptances:
        out += ["## Stale acceptances (matched no failing check in this run: clean them up)", ""]
        out += [f"- `{e.check}`: {_cell(e.reason)} (until {e.until})" for e in v.stale_acceptances]
        out.append("")
    return out


def _debt_section(v: Verdict) -> list[str]:
    """Existing debt of `new_only` checks: what the comparison was made with and the count per check."""
    if not v.debt:
        return []
    d = v.debt
    out = [f"## Existing debt ({d.existing} finding(s); {d.new} new)", ""]
    if d.first_run:
        out += ["No previous release to compare with (a first run): this run's findings are recorded as the "
                "starting debt; the next run fails only on findings this one did not have.", ""]
    else:
        out += [f"Compared with {d.compared_with}: only findings it did not have fail the gate.", ""]
    debts = v.debt_checks()
    if debts:
        out += ["| stage | check | existing debt | new |", "|---|---|---|---|"]
        for stage, c in debts:
            found = c.debt or DebtNote()
            out.append(f"| {stage} | `{c.id}` | {len(found.existing)} | {len(found.new)} |")
        out.append("")
    return out


def _contract_section(v: Verdict) -> list[str]:
    """Contract drift and not-verified checks, listed apart from defects (see synthgate.checks.contract)."""
    drift = [(s, c) for s, c in v.failed_checks() if c.contract_drift]
    unverified = [(s, c) for s, c in v.failed_checks() if c.unverifiable]
    out: list[str] = []
    if drift:
        out += ["## Contract drift (the app departs from the profile's contract; fails the gate)", ""]
        out += [f"- {stage} / `{c.id}`: {_cell(c.message, 400)}" for stage, c in drift] + [""]
    if unverified:
        out += ["## Not verified here (no data: neither a pass nor evidence against the deploy)", ""]
        out += [f"- {stage} / `{c.id}`: {_cell(c.message, 400)}" for stage, c in unverified] + [""]
    return out


def _load_section(v: Verdict) -> list[str]:
    load = v.load
    assert load is not None
    def ms(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f} ms"
    rate = "n/a" if load.error_rate is None else f"{load.error_rate * 100:.2f} %"
    rps = "n/a" if load.rps is None else f"{load.rps:.1f}"
    out = ["## Load", "", "| P50 | P95 | P99 | error rate | req/s | requests |", "|---|---|---|---|---|---|",
           f"| {ms(load.p50_ms)} | {ms(load.p95_ms)} | {ms(load.p99_ms)} | {rate} | {rps} | {load.requests} |", ""]
    if load.thresholds:
        out.append("thresholds: " + ", ".join(f"{k} {val}" for k, val in load.thresholds.items()))
        out.append("")
    per_task = {name: stats for name, stats in load.per_request.items() if stats.thresholds is not None}
    if per_task:  # each request name against its own limits
        out += ["| request | P50 | P95 | P99 | error rate | requests | failed checks |",
                "|---|---|---|---|---|---|---|"]
        for name, st in per_task.items():
            failed = [cid for cid, status in (st.checks or {}).items() if status == "failed"]
            err = st.error_rate
            out.append(f"| `{_cell(name, 80)}` | {ms(st.p50_ms)} | {ms(st.p95_ms)} | "
                       f"{ms(st.p99_ms)} | {'n/a' if err is None else f'{err * 100:.2f} %'} | "
                       f"{st.requests} | {', '.join(f'`{f}`' for f in failed) or '-'} |")
        out.append("")
    out += [f"- {note}" for note in load.notes]
    return out + ([""] if load.notes else [])


def _baseline_section(baseline: BaselineComparison) -> list[str]:
    out = ["## What changed since the baseline", ""]
    release, source = baseline.release, baseline.source
    out.append(f"compared with release `{release}` ({source})" if release else f"compared with {source}")
    out.append("")
    if baseline.summary:
        out += [baseline.summary, ""]
    if baseline.metrics:
        out += ["| metric | before | after | change | p-value | decision |", "|---|---|---|---|---|---|"]
        for m in baseline.metrics:
            shown_p = "n/a" if m.p_value is None else f"{m.p_value:.2g}"
            out.append(f"| {m.kind}: {m.name} | {_side(m.before)} | {_side(m.after)} | {m.change} | {shown_p} | "
                       f"**{m.decision}** |")
        out.append("")
    for items, title in ((baseline.regressions, "Regressions"), (baseline.pre_existing, "Pre-existing failures")):
        if items:
            out += [f"**{title}:** " + ", ".join(f"`{i}`" for i in items), ""]
    return out


def _rollout_section(r: RolloutReport) -> list[str]:
    """synthgate rollout: where it went, where it stopped, the way back, the data."""
    out = ["## Rollout", ""]
    stopped = r.stopped_at
    where = (f"stopped at step {stopped.step} ({stopped.percent} %)" if stopped
             else "promoted to 100 %" if r.promoted else r.outcome)
    out.append(f"`{r.new}` replacing `{r.old}`: **{r.outcome}**, {where}")
    out += ["", "| step | percent | hold | status | new vs old (side by side) |", "|---|---|---|---|---|"]
    for step in r.steps:
        fig = step.side_by_side
        side = ""
        if fig:
            side = "; ".join(f"{k} P50 {s.p50_ms} ms, P95 {s.p95_ms} ms, {s.errors} errors"
                             for k, s in (("new", fig.new), ("old", fig.old)))
        elif step.gate:
            gate = step.gate
            side = f"gate pinned to {gate.pinned_to}: {gate.verdict} (reports {gate.reports})"
        out.append(f"| {step.step} | {step.percent} % | {step.hold_s:g} s | {step.status} | {_cell(side, 200)} |")
    out.append("")
    for step in r.steps:
        for line in step.failed or []:
            out.append(f"- step {step.step}: {_cell(line, 300)}")
    back = r.split_back
    if back:
        out.append(f"- split back: `{' '.join(back.command)}` exit {back.exit_code} in {back.duration_s} s")
    if r.verification:
        out.append(f"- verification (users get `{r.old}`): {r.verification.status}")
    data = r.data
    out.append(f"- data: {data.message}" + (f"; restore: {data.restore.message}" if data.restore else ""))
    if r.recorded_as_last_good:
        out.append(f"- `{r.new}` recorded as the last good release")
    out.append("")
    return out


def _side(figures: dict) -> str:
    if "p50_ms" in figures:
        return f"P50 {figures['p50_ms']:.1f} ms, P95 {figures['p95_ms']:.1f} ms (n={figures['n']})"
    if "error_rate" in figures:
        return f"{figures['error_rate'] * 100:.2f} % ({figures['errors']}/{figures['requests']})"
    return ""


def write(verdict: Verdict, reports_dir: Path) -> Path:
    """Write summary.md."""
    path = reports_dir / "summary.md"
    path.write_text(render(verdict), encoding="utf-8")
    return path
