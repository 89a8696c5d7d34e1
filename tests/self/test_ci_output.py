"""CI-native output: a failing gate inside GitHub Actions (its files in temp files) and GitLab CI."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from verdicts import read_verdict

from synthgate.redact import redactor
from synthgate.reports import ci
from synthgate.results import CheckResult, RollbackResult, StageResult, Verdict

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = "SG_SELFTEST_API_TOKEN"
SECRET = "sg-selftest-Zq8x3Kp2-secret-value"  # must not appear in any output


def run_cli(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, with exactly the CI variables given (none inherited from this machine)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_"))}
    return subprocess.run([sys.executable, "-m", "synthgate", *args], capture_output=True, text=True,
                          timeout=timeout, env={**base, **env}, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                          check=False)


def _profile_with_secret(folder: Path) -> Path:
    """The demo profile plus a secret that every request carries, so curl repros would hold it unredacted."""
    data = yaml.safe_load((ROOT / "targets" / "demo.yaml").read_text(encoding="utf-8"))
    data["secrets"] = {"api_token": {"env": SECRET_ENV, "required": True}}
    data["headers"] = {**data.get("headers", {}), "X-Api-Key": "${secrets.api_token}"}
    path = folder / "demo-with-secret.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def github_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One failing gate (health-500) with GITHUB_ACTIONS set and its runner files pointed at temp files."""
    root = tmp_path_factory.mktemp("github")
    summary, output, reports = root / "step_summary.md", root / "github_output", root / "reports"
    summary.write_text("previous step's summary\n", encoding="utf-8")  # appended to, never replaced
    output.write_text("", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output),
           "GITLAB_CI": "", SECRET_ENV: SECRET, "SYNTHGATE_LOCK_DIR": str(root / "locks"),
           "SYNTHGATE_HOME": str(root / "home")}
    proc = run_cli("run", "--profile", str(_profile_with_secret(root)), "--stages", "smoke",
                   "--demo-fault", "health-500", "--reports", str(reports), env=env, timeout=240)
    verdict = read_verdict(reports)
    return {"proc": proc, "summary": summary, "output": output, "reports": reports, "verdict": verdict}


def _failed_ids(verdict: dict) -> list[str]:
    return [f"{s['name']}/{c['id']}" for s in verdict["stages"] for c in s["checks"] if c["status"] == "failed"]


def test_failing_gate_fills_the_step_summary_outputs_and_annotations(github_run: dict) -> None:
    proc, verdict = github_run["proc"], github_run["verdict"]
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    failed = _failed_ids(verdict)
    assert "smoke/health" in failed

    summary = github_run["summary"].read_text(encoding="utf-8")
    assert summary.startswith("previous step's summary\n")
    assert "FAILED" in summary and "## Failed checks" in summary
    for name in failed:
        assert f"`{name.split('/', 1)[1]}`" in summary

    outputs = dict(line.split("=", 1) for line in github_run["output"].read_text(encoding="utf-8").splitlines())
    assert outputs["verdict"] == "fail"
    assert outputs["exit_code"] == "1"
    assert outputs["reports_dir"] == str(github_run["reports"])
    assert outputs["failed_checks"] == str(len(failed))
    assert outputs["rollback_triggered"] == "true" and outputs["rollback_verified"] == "true"

    lines = proc.stdout.splitlines() + proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == len(failed)  # exactly one annotation per failed check, nothing else
    titles = [re.match(r"::error title=([^:]*)::", line) for line in errors]
    assert all(titles), errors
    assert sorted(t.group(1) for t in titles if t) == sorted(
        ci.escape_property(f"synthgate {name} failed") for name in failed)
    health = next(line for line in errors if "smoke/health" in line)
    assert "status 500" in health and "%0Aattempts: " in health  # multi-line message, escaped onto one line
    assert "\r" not in health


def test_workflow_commands_are_off_while_the_target_is_checked(github_run: dict) -> None:
    """Lines built from the target's answers come after ::stop-commands:: and before the resume token."""
    lines = github_run["proc"].stdout.splitlines()
    stops = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    assert len(stops) == 1
    token = lines[stops[0]].split("::")[2]
    assert len(token) >= 32
    resume = lines.index(f"::{token}::")
    first_check_line = next(i for i, line in enumerate(lines) if "health" in line and "FAIL" in line)
    first_error = next(i for i, line in enumerate(lines) if line.startswith("::error"))
    assert stops[0] < first_check_line < resume < first_error


def test_no_secret_anywhere(github_run: dict) -> None:
    proc = github_run["proc"]
    places = {"stdout": proc.stdout, "stderr": proc.stderr,
              "step summary": github_run["summary"].read_text(encoding="utf-8"),
              "outputs": github_run["output"].read_text(encoding="utf-8")}
    for path in github_run["reports"].rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert len(places) > 6  # the reports exist: verdict.json, summary.md, junit.xml, report.html, logs...
    leaks = [where for where, text in places.items() if SECRET in text]
    assert leaks == []
    # the secret was really sent: the failed check's curl repro names it by its variable instead
    health = next(c for s in github_run["verdict"]["stages"] for c in s["checks"] if c["id"] == "health")
    assert f"${SECRET_ENV}" in (health["curl"] or "")


def test_junit_is_ready_for_gitlab(github_run: dict) -> None:
    root = ET.parse(github_run["reports"] / "junit.xml").getroot()
    assert root.tag == "testsuites"
    failures = [f"{suite.get('name')}/{case.get('name')}" for suite in root.iter("testsuite")
                for case in suite.iter("testcase") if case.find("failure") is not None]
    assert sorted(failures) == sorted(_failed_ids(github_run["verdict"]))  # the 5xx budget is its own suite


def test_gitlab_sections_and_dotenv(github_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    verdict = Verdict.load_file(github_run["reports"] / "verdict.json")
    out = io.StringIO()
    ci.emit(verdict, tmp_path, stream=out)
    log = out.getvalue()
    starts = re.findall(r"\x1b\[0Ksection_start:(\d+):([a-z0-9_.-]+)(\[collapsed=true\])?\r\x1b\[0K", log)
    ends = re.findall(r"\x1b\[0Ksection_end:(\d+):([a-z0-9_.-]+)\r\x1b\[0K", log)
    assert [(ts, name) for ts, name, _ in starts] == ends  # every section closes, in order, with its timestamp
    collapsed = {name: bool(flag) for _, name, flag in starts}
    assert collapsed["synthgate_verdict"] is False and collapsed["synthgate_stage_smoke"] is False  # failed: open
    assert collapsed["synthgate_reports"] is True
    verdict_section = log.split("section_end:")[0]
    assert "FAIL" in verdict_section and "smoke/health" in verdict_section and "status 500" in verdict_section
    assert not any(line.startswith("::") for line in log.splitlines())  # no GitHub commands in GitLab
    env = dict(line.split("=", 1) for line in (tmp_path / "synthgate.env").read_text().splitlines())
    assert env["SYNTHGATE_VERDICT"] == "fail" and env["SYNTHGATE_EXIT_CODE"] == "1"
    assert env["SYNTHGATE_ROLLBACK_TRIGGERED"] == "true"
    assert all(value and " " not in value for value in env.values())  # GitLab's dotenv rules


def test_outside_ci_nothing_is_emitted(tmp_path: Path) -> None:
    verdict = _verdict()
    out = io.StringIO()
    ci.begin(out)
    ci.emit(verdict, tmp_path, stream=out)
    assert out.getvalue() == ""
    assert list(tmp_path.iterdir()) == []
    assert ci.write(verdict, tmp_path) is None


def test_write_never_emits_even_inside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert ci.write(_verdict(), tmp_path) is None  # write_all calls it for every re-rendering
    assert not summary.exists()
    assert capsys.readouterr().out == ""


def _verdict() -> Verdict:
    checks = [
        CheckResult(id="route-exists:POST /api/generate", status="failed", attempts=3, kind="assertion",
                    message="POST /api/generate answered 404,\r\nexpected a 4xx but 404 (100% sure)",
                    curl=f"curl -X POST https://x.example/api/generate -H 'X-Api-Key: {SECRET}'"),
        CheckResult(id="health", status="passed", attempts=2, flaky=True, message="ok after a retry"),
        CheckResult(id="page:landing", status="passed"),
    ]
    return Verdict(verdict="fail", exit_code=1, target="demo", base_url="https://x.example", started_at="now",
                   duration_s=1.0, stages=[StageResult.from_checks("smoke", checks, 1.0)],
                   rollback=RollbackResult(triggered=False, message="no rollback configured"), reason="1 failed")


def test_annotations_escape_and_redact() -> None:
    redactor.add(SECRET, SECRET_ENV)
    lines = ci.annotations(_verdict())
    assert len(lines) == 2
    error, warning = lines
    assert error.startswith("::error title=synthgate smoke/route-exists%3APOST /api/generate failed::")
    message = error.split("::", 2)[2]
    assert "404%2C" not in message and "404," in message  # ',' and ':' are escaped in properties only
    assert "%0D%0A" in message and "100%25 sure" in message
    assert SECRET not in error and f"[REDACTED:{SECRET_ENV}]" in error
    assert warning.startswith("::warning title=synthgate smoke/health is flaky::passed on attempt 2")


def test_escaping_rules() -> None:
    assert ci.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert ci.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert ci.command("notice", "x") == "::notice::x"


def test_outputs_with_line_breaks_use_the_delimiter_form() -> None:
    parts = ci._output_line("reason", "one\ntwo").split("\n")
    assert parts[0].startswith("reason<<SYNTHGATE_EOF_") and parts[1:3] == ["one", "two"]
    assert parts[3] == parts[0].split("<<")[1] and parts[4] == ""
    assert ci._output_line("verdict", "fail") == "verdict=fail\n"
