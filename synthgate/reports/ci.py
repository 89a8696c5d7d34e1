"""CI-native output: GitHub Actions step summary, outputs and annotations; GitLab CI collapsible log sections.

Only the gate run itself talks to the CI (`begin` when it starts, `emit` when the verdict is known). `write`, which
`write_all` calls for every rendering, does nothing: re-rendering a saved run with `synthgate report --from` must
not annotate the job or append a second summary.
"""

from __future__ import annotations

import atexit
import os
import secrets
import sys
import time
from pathlib import Path
from typing import TextIO

from synthgate.redact import redactor
from synthgate.reports import markdown
from synthgate.results import CheckResult, Verdict

SUMMARY_LIMIT = 1024 * 1024 - 4096  # GitHub refuses a step summary over 1 MiB
ANNOTATION_LIMIT = 4000  # characters of one annotation message; the full text is in the summary and reports

_stop_token: str | None = None  # set while GitHub workflow commands are stopped (see begin)


def in_github() -> bool:
    """True inside a GitHub Actions job."""
    return _truthy(os.environ.get("GITHUB_ACTIONS"))


def in_gitlab() -> bool:
    """True inside a GitLab CI job."""
    return _truthy(os.environ.get("GITLAB_CI"))


def _truthy(value: str | None) -> bool:
    return bool(value) and value.strip().lower() not in ("0", "false", "no")


def write(verdict: Verdict, reports_dir: Path) -> None:
    """Nothing: CI output belongs to the gate run (`emit`), never to a re-rendering of reports."""
    return None


def begin(stream: TextIO | None = None) -> None:
    """At the start of a gate run in GitHub Actions: stop workflow commands until `emit`.

    The run prints lines built from what the deployment answered; a response body holding "::error::" or
    "::add-mask::" must not become a workflow command. GitHub's documented `stop-commands` switch with an
    unguessable token turns command processing off; `emit` (or the exit handler) turns it back on.
    """
    global _stop_token
    if not in_github() or _stop_token is not None:
        return
    out = stream or sys.stdout
    _stop_token = "synthgate-" + secrets.token_hex(16)
    out.write(f"::stop-commands::{_stop_token}\n")
    out.flush()
    atexit.register(_resume, out)


def _resume(stream: TextIO | None = None) -> None:
    global _stop_token
    if _stop_token is None:
        return
    out = stream or sys.stdout
    try:
        out.write(f"::{_stop_token}::\n")
        out.flush()
    except (OSError, ValueError):  # stdout already closed at interpreter exit
        pass
    _stop_token = None


def emit(verdict: Verdict, reports_dir: Path, stream: TextIO | None = None) -> None:
    """Once per gate run: the CI-native output for the CI this runs in (nothing outside CI)."""
    out = stream or sys.stdout
    if in_github():
        _resume(out)
        github(verdict, reports_dir, out)
    elif in_gitlab():
        gitlab(verdict, reports_dir, out)


# --- GitHub Actions ------------------------------------------------------------------------------------------------

def escape_data(text: str) -> str:
    """Escape a workflow command's message: %, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as data, plus ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str) -> str:
    """One workflow command line, e.g. `::error title=smoke%2Fhealth::status 500`, redacted and escaped."""
    props = ",".join(f"{key}={escape_property(redactor(value))}" for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{escape_data(redactor(message))}"


def annotations(verdict: Verdict) -> list[str]:
    """Exactly one ::error per failed check and one ::warning per flaky check, in run order."""
    lines = []
    for stage, check in verdict.failed_checks():
        if check.is_tool_error:  # not the deployment's: say whose problem it is and where its log is
            lines.append(command("error", _annotation_text(check) + "\nthis is synthgate's (or the team's test "
                                 f"code's) problem, not the deployment's; log: {verdict.log or 'logs/'}",
                                 title=f"synthgate {stage}/{check.id}: tool error"))
            continue
        lines.append(command("error", _annotation_text(check), title=f"synthgate {stage}/{check.id} failed"))
    for stage, check in verdict.accepted_checks():
        note = check.acceptance
        lines.append(command("notice",
                             f"accepted until {note and note.until} ({note and note.reason}): {check.message}",
                             title=f"synthgate {stage}/{check.id} accepted"))
    for entry in verdict.stale_acceptances:
        lines.append(command("warning", f"the acceptance of {entry.check} ({entry.reason}, until "
                             f"{entry.until}) matched no failing check: remove it",
                             title="synthgate stale acceptance"))
    if verdict.debt and verdict.debt.existing:
        lines.append(command("notice", f"{verdict.debt.existing} finding(s) of existing debt (new_only), "
                             f"{verdict.debt.new} new", title="synthgate existing debt"))
    for stage, check in verdict.flaky_checks():
        lines.append(command("warning", f"passed on attempt {check.attempts} after failing: {check.message}",
                             title=f"synthgate {stage}/{check.id} is flaky"))
    return lines


def _annotation_text(check: CheckResult) -> str:
    text = check.message or "failed"
    text += f"\nattempts: {check.attempts}" + (f", kind: {check.kind}" if check.kind else "")
    if check.curl:
        text += f"\nreproduce: {check.curl}"
    return text if len(text) <= ANNOTATION_LIMIT else text[: ANNOTATION_LIMIT - 1] + "…"


def outputs(verdict: Verdict, reports_dir: Path) -> dict[str, str]:
    """The step outputs a later step or job reads (steps.<id>.outputs.verdict ...)."""
    return {"verdict": verdict.verdict, "exit_code": str(verdict.exit_code), "reports_dir": str(reports_dir),
            "failed_checks": str(len(verdict.failed_checks())), "flaky_checks": str(len(verdict.flaky_checks())),
            "release": verdict.release or "", "rollback_triggered": _flag(verdict.rollback.triggered),
            "rollback_verified": _flag(verdict.rollback.verified),
            "accepted_checks": str(len(verdict.accepted_checks()))}


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def github(verdict: Verdict, reports_dir: Path, out: TextIO) -> None:
    """Step summary, step outputs and annotations for GitHub Actions."""
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        text = markdown.render(verdict)
        if len(text.encode("utf-8")) > SUMMARY_LIMIT:
            text = text.encode("utf-8")[:SUMMARY_LIMIT].decode("utf-8", "ignore")
            text += "\n\n… (truncated: the full summary.md is in the reports artifact)\n"
        _append(summary_path, redactor(text) + "\n")
    output_path = os.environ.get("GITHUB_OUTPUT")
    if output_path:
        _append(output_path, "".join(_output_line(k, redactor(v)) for k, v in outputs(verdict, reports_dir).items()))
    lines = annotations(verdict)
    lines.append(command("notice", f"{verdict.verdict.upper()} (exit {verdict.exit_code}): {verdict.reason}",
                         title=f"synthgate {verdict.target}"))
    out.write("".join(line + "\n" for line in lines))
    out.flush()


def _output_line(name: str, value: str) -> str:
    """name=value, or GitHub's heredoc form for a value with a line break."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = "SYNTHGATE_EOF_" + secrets.token_hex(8)
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:  # a missing runner file must not turn a verdict into a crash
        print(f"synthgate: cannot write {path}: {exc}", file=sys.stderr)


# --- GitLab CI -----------------------------------------------------------------------------------------------------

ESC = "\x1b"
RED, GREEN, YELLOW, BOLD, RESET = f"{ESC}[31;1m", f"{ESC}[32;1m", f"{ESC}[33;1m", f"{ESC}[1m", f"{ESC}[0m"


def section(name: str, header: str, lines: list[str], collapsed: bool) -> str:
    """One GitLab job-log section: the header line folds the lines below it."""
    stamp = int(time.time())
    flag = "[collapsed=true]" if collapsed else ""
    start = f"{ESC}[0Ksection_start:{stamp}:{name}{flag}\r{ESC}[0K{header}\n"
    end = f"{ESC}[0Ksection_end:{stamp}:{name}\r{ESC}[0K\n"
    return start + "".join(line + "\n" for line in lines) + end


def gitlab_log(verdict: Verdict, reports_dir: Path) -> str:
    """The summary as collapsible GitLab log sections: verdict open, the detail folded."""
    v = verdict
    color = {"pass": GREEN, "fail": RED, "inconclusive": YELLOW, "error": YELLOW}[v.verdict]
    head = [f"{color}synthgate {v.target}: {v.verdict.upper()} (exit {v.exit_code}){RESET}", v.reason,
            f"target {v.base_url}" + (f", release {v.release}" if v.release else "") + f", took {v.duration_s:.1f} s"]
    if v.verdict == "error":
        head.append(f"not the deployment's problem: synthgate or the team's test code broke; log {v.log or 'logs/'}")
    for stage, c in v.failed_checks():
        word = "ERROR" if c.is_tool_error else "FAILED"
        head.append(f"{RED}{word}{RESET} {stage}/{c.id} (attempts {c.attempts}): {c.message}")
        if c.curl:
            head.append(f"    reproduce: {c.curl}")
    for stage, c in v.flaky_checks():
        head.append(f"{YELLOW}FLAKY{RESET} {stage}/{c.id}: passed on attempt {c.attempts}")
    for stage, c in v.accepted_checks():
        head.append(f"{YELLOW}ACCEPTED{RESET} {stage}/{c.id}: {c.acceptance and c.acceptance.reason}")
    parts = [section("synthgate_verdict", f"{BOLD}synthgate verdict{RESET}", head, collapsed=False)]
    for stage in v.stages:
        rows = [f"{markdown.shown_status(c):8} {c.id}  "
                f"({c.attempts} attempt{'s' if c.attempts != 1 else ''}, {c.duration_ms:.0f} ms) {c.message}"
                for c in stage.checks] or [stage.message or "no checks"]
        parts.append(section(f"synthgate_stage_{_section_name(stage.name)}",
                             f"synthgate stage {stage.name}: {stage.status} ({len(stage.failed_checks)} failed)",
                             rows, collapsed=stage.status != "failed"))
    if v.load is not None:
        load = v.load
        rows = [f"P50 {load.p50_ms} ms, P95 {load.p95_ms} ms, P99 {load.p99_ms} ms, error rate {load.error_rate}, "
                f"{load.rps} req/s, {load.requests} requests"]
        rows += [f"threshold {k}: {val}" for k, val in load.thresholds.items()] + list(load.notes)
        parts.append(section("synthgate_load", "synthgate load figures", rows, collapsed=True))
    rb = v.rollback
    rb_rows = ([f"command: {' '.join(rb.command or [])}", f"exit code: {rb.exit_code}", f"verified: {rb.verified}",
                rb.message] if rb.triggered else [f"not triggered: {rb.message or 'gate passed'}"])
    parts.append(section("synthgate_rollback", f"synthgate rollback: {'triggered' if rb.triggered else 'no'}",
                         rb_rows, collapsed=not rb.triggered))
    parts.append(section("synthgate_reports", "synthgate reports", [
        f"{reports_dir}/report.html, summary.md, verdict.json",
        f"{reports_dir}/junit.xml: declare it under artifacts:reports:junit for the merge request test widget"],
        collapsed=True))
    return redactor("".join(parts))


def _section_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name.lower())


def dotenv(verdict: Verdict, reports_dir: Path) -> str:
    """SYNTHGATE_* variables for `artifacts:reports:dotenv`, so later jobs can branch on the verdict.

    GitLab's dotenv rules: one KEY=value a line, no empty lines, no spaces in values (such a value is left out).
    """
    lines = []
    for key, value in outputs(verdict, reports_dir).items():
        value = redactor(value)
        if value and not any(ch.isspace() for ch in value):
            lines.append(f"SYNTHGATE_{key.upper()}={value}")
    return "\n".join(lines) + "\n"


def gitlab(verdict: Verdict, reports_dir: Path, out: TextIO) -> None:
    """Print the collapsible summary to the GitLab job log and write reports/synthgate.env."""
    try:
        (reports_dir / "synthgate.env").write_text(dotenv(verdict, reports_dir), encoding="utf-8")
    except OSError as exc:
        print(f"synthgate: cannot write {reports_dir}/synthgate.env: {exc}", file=sys.stderr)
    out.write(gitlab_log(verdict, reports_dir))
    out.flush()
