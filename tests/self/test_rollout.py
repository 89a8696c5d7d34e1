"""synthgate rollout against the demo's versions stand-in (Cloudflare's split and override-header contract).

One stand-in serves the module; each test uploads its own new version and rolls it out from whatever version
holds 100 % at that moment. The step-0 gate runs the smoke stage only (rollout.gate_stages) to keep this fast;
the acceptance check (../shared/acceptance/rollout) runs the whole gate.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from synthgate.bundled import targets_dir
from synthgate.demo import versions
from synthgate.demo.server import free_port
from synthgate.demo.versions_header import ParseError, override_for, parse_dictionary

SYNTHGATE = [sys.executable, "-m", "synthgate"]
OVERRIDE = "Cloudflare-Workers-Version-Overrides"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`synthgate demo serve --versions` on a free port: (base URL, state file)."""
    folder = tmp_path_factory.mktemp("versions")
    state, port = folder / "state.json", free_port()
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen([*SYNTHGATE, "demo", "serve", "--versions", "--port", str(port), "--state", str(state)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{url}/v1/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, state
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def live(state: Path) -> str:
    """The version that takes 100 % now."""
    split = versions.status(state)["split"]
    assert len(split) == 1, split
    return next(iter(split))


def profile_for(state: Path, out: Path, holds: float = 3.0, **extra: Any) -> Path:
    """The demo profile with a rollout section driving the stand-in (smoke-only gate at step 0)."""
    data = yaml.safe_load((targets_dir() / "demo.yaml").read_text())
    data.pop("embedded_demo", None)
    data.pop("rollback", None)
    data["name"] = "versions"
    data["rollout"] = {
        "steps": [{"percent": 0}, {"percent": 10, "hold_s": holds}, {"percent": 100}],
        "set_split": [*SYNTHGATE, "demo", "versions", "deploy", "--state", str(state),
                      "{new}@{new_percent}%", "{old}@{old_percent}%"],
        "pin": {"header": OVERRIDE, "value": 'demo="{version}"'},
        "version_from": {"header": "X-Demo-Version"},
        "gate_stages": ["smoke"],
        **extra.pop("rollout", {}),
    }
    data.update(extra)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def saved_verdict(reports: Path) -> dict[str, Any]:
    """verdict.json as written; it reads back into the typed Verdict (its RolloutReport) and writes out unchanged."""
    from synthgate.results import Verdict

    text = (reports / "verdict.json").read_text()
    assert Verdict.model_validate_json(text).dump() + "\n" == text
    return json.loads(text)


def rollout(profile: Path, url: str, new: str, old: str, reports: Path, **kw: Any) -> Any:
    from synthgate.rollout.runner import RolloutOptions, run_rollout

    return run_rollout(RolloutOptions(profile=str(profile), new=new, old=old, base_url=url, reports_dir=reports,
                                      progress=lambda text: None, **kw))


# -- the stand-in's contract --------------------------------------------------------------------------------------

def test_override_header_contract(stand_in: tuple[str, Path]) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    versions.deploy(state, [f"{new}@0%", f"{old}@100%"])
    assert versions.status(state)["split"] == {old: 100}  # 0 %: in the deployment, no traffic
    with httpx.Client(base_url=url, timeout=5) as client:
        def served(header: str | None = None) -> str:
            r = client.get("/v1/health", headers={OVERRIDE: header} if header is not None else {})
            assert r.status_code == 200
            return r.headers["X-Demo-Version"]

        assert {served() for _ in range(20)} == {old}
        assert {served(f'demo="{new}"') for _ in range(5)} == {new}  # pinned at 0 %
        assert served(f'other="{old}", demo="{new}";p=1') == new  # a dictionary: other members and parameters
        assert served('demo="v999"') == old  # outside the deployment: ignored, the split applies
        assert served(f'demo="{new}') == old  # does not parse: ignored as a whole
        assert served(f"demo={new}") == old  # a token, not a string
        versions.deploy(state, [f"{new}@50%", f"{old}@50%"])
        assert {served() for _ in range(60)} == {new, old}
        versions.deploy(state, [f"{old}@100%"])
        assert served(f'demo="{new}"') == old  # no longer in the deployment


def test_structured_dictionary_parser() -> None:
    assert parse_dictionary('a="x", b=?1, c=12, d=tok;q=1, e=(1 2), f') == {
        "a": "x", "b": True, "c": 12, "d": "tok", "e": [1, 2], "f": True}
    assert override_for("demo", ['demo="v\\"2"']) == 'v"2'
    assert override_for("demo", ["x=1", 'demo="v3"']) == "v3"  # lines join into one field
    for bad in ('demo="v2', "Demo=\"v2\"", 'demo="v2",', "demo=@"):
        with pytest.raises(ParseError):
            parse_dictionary(bad)


def test_deploy_refuses_bad_splits(stand_in: tuple[str, Path]) -> None:
    _, state = stand_in
    old = live(state)
    for specs in ([f"{old}@50%"], ["v1@50%", "v1@50%"], ["nope@100%"], [f"{old}@60%", "v1@60%"], ["a", "b", "c"]):
        with pytest.raises(versions.VersionsError):
            versions.deploy(state, specs)
    assert live(state) == old


# -- rollouts -------------------------------------------------------------------------------------------------------

def test_healthy_version_reaches_100(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    verdict = rollout(profile_for(state, tmp_path / "p.yaml"), url, new, old, tmp_path / "r")
    assert verdict.exit_code == 0, verdict.reason
    assert versions.status(state)["split"] == {new: 100}
    saved = saved_verdict(tmp_path / "r")
    r = saved["rollout"]
    assert r["outcome"] == "promoted" and r["stopped_at"] is None and r["recorded_as_last_good"]
    assert [s["percent"] for s in r["steps"]] == [0, 10, 100]
    assert r["steps"][0]["gate"]["verdict"] == "pass" and r["steps"][0]["gate"]["pinned_to"] == new
    side = r["steps"][1]["side_by_side"]
    assert side["new"]["requests"] >= 30 and side["old"]["requests"] >= 30 and side["new"]["errors"] == 0
    assert any(c["kind"] == "latency" and c["decision"] == "no regression" for c in r["steps"][1]["comparisons"])
    assert "## Rollout" in (tmp_path / "r" / "summary.md").read_text()
    assert 'id="rollout"' in (tmp_path / "r" / "report.html").read_text()


def test_broken_version_is_stopped_at_0_and_its_data_restored(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state, "health-500")
    restored = tmp_path / "restored.txt"
    snapshot = [sys.executable, "-c", "import json; print(json.dumps({'bookmark': 'bm-42'}))"]
    restore = [sys.executable, "-c", f"import sys; open({str(restored)!r}, 'w').write(sys.argv[1])",
               "{snapshot.bookmark}"]
    profile = profile_for(state, tmp_path / "p.yaml", rollback={
        "command": [sys.executable, "-c", "pass"], "snapshot": snapshot, "restore": restore, "timeout_s": 30},
        rollout={"changes_data": True})
    verdict = rollout(profile, url, new, old, tmp_path / "r")
    assert verdict.exit_code == 1, verdict.reason
    assert versions.status(state)["split"] == {old: 100}
    saved_verdict(tmp_path / "r")
    r = verdict.rollout
    assert r.stopped_at is not None and (r.stopped_at.step, r.stopped_at.percent) == (0, 0) and len(r.steps) == 1
    assert any("health" in f for f in r.steps[0].failed or [])
    assert r.split_back and r.split_back.ok and r.verification and r.verification.status == "passed"
    assert verdict.rollback.verified
    assert r.data.changes_data and r.data.snapshot and r.data.snapshot.ok and r.data.restore and r.data.restore.ok
    assert restored.read_text() == "bm-42"  # once, with the snapshot's bookmark


def test_latency_regression_is_stopped_at_the_first_traffic_step(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state, "latency-regression")
    verdict = rollout(profile_for(state, tmp_path / "p.yaml"), url, new, old, tmp_path / "r")
    assert verdict.exit_code == 1, verdict.reason
    assert versions.status(state)["split"] == {old: 100}
    r = saved_verdict(tmp_path / "r")["rollout"]
    assert r["steps"][0]["status"] == "passed"  # every absolute threshold holds: the pinned gate passes
    assert r["stopped_at"] == {"step": 1, "percent": 10}
    assert any(f.startswith("compare.latency[all tasks]") for f in r["steps"][1]["failed"]), r["steps"][1]["failed"]
    assert not any(f.startswith("floor.") for f in r["steps"][1]["failed"])
    assert r["data"]["restore"] == {"ran": False, "message": "the release does not change data: no restore"}


def test_sigterm_puts_the_old_version_back(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    profile = profile_for(state, tmp_path / "p.yaml", rollout={"steps": [{"percent": 10, "hold_s": 60},
                                                                         {"percent": 100}]})
    proc = subprocess.Popen([*SYNTHGATE, "rollout", "--profile", str(profile), "--base-url", url, "--new", new,
                             "--old", old, "--reports", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while versions.status(state)["split"] != {new: 10, old: 90}:
            assert time.monotonic() < deadline and proc.poll() is None, "the rollout never reached 10 %"
            time.sleep(0.2)
        time.sleep(1.0)  # inside the step: smoke checks or the side-by-side phase
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out[-2000:]
    assert versions.status(state)["split"] == {old: 100}
    saved = saved_verdict(tmp_path / "r")
    r = saved["rollout"]
    assert saved["reason"].startswith("cancelled") and saved["exit_code"] == 143
    assert r["outcome"] == "cancelled" and r["stopped_at"]["percent"] == 10 and r["split_back"]["ok"]


# -- version evidence ------------------------------------------------------------------------------------------------

def test_an_answer_from_another_version_is_no_data(stand_in: tuple[str, Path]) -> None:
    from synthgate import version_pin
    from synthgate.checks import registry
    from synthgate.checks.smoke import execute
    from synthgate.profile import load_profile

    url, state = stand_in
    old = live(state)
    profile, _ = load_profile("demo")
    health = next(c for c in registry.checks(profile, probed=True) if c.kind == "health")
    pinned = profile.model_copy(update={"headers": {**profile.headers, OVERRIDE: 'demo="v999"'}})
    version_pin.activate(version_pin.VersionPin("v999", {OVERRIDE: 'demo="v999"'}, evidence_header="X-Demo-Version"))
    try:
        tried = execute(health, pinned, url)
    finally:
        version_pin.activate(None)
    assert not tried.final.ok and tried.final.kind == "no-data"
    assert f"answered by version {old}" in tried.final.message and "v999" in tried.final.message
    assert execute(health, profile, url).final.ok  # unpinned, the same check passes


# -- eventually consistent reads ---------------------------------------------------------------------------------

class _Eventual(BaseHTTPRequestHandler):
    """PUT /kv stores a value that GET /kv shows only 1.2 s later (a KV store propagating)."""

    written_at: float | None = None

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        type(self).written_at = time.monotonic()
        self._reply(200, {"ok": True})

    def do_GET(self) -> None:  # noqa: N802
        at = type(self).written_at
        visible = at is not None and time.monotonic() - at > 1.2
        self._reply(200 if visible else 404, {"value": "x"} if visible else {"error": "not found"})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_eventually_polls_until_the_read_holds() -> None:
    from synthgate.checks import registry
    from synthgate.checks.smoke import execute
    from synthgate.probe.jobs import consistency_s
    from synthgate.profile.model import Profile

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Eventual)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        def check(bound: str) -> Any:
            profile = Profile.model_validate({"name": "kv", "checks": [{"id": "kv-read-after-write", "steps": [
                {"request": {"method": "PUT", "path": "/kv"}, "expect": {"status": 200}},
                {"request": {"path": "/kv"}, "expect": {"status": 200, "not_status": []},
                 "eventually": bound, "interval": "200ms"}]}]})
            return execute(registry.checks(profile, probed=True)[0], profile, url).final

        held = check("10s")
        assert held.ok, held.message
        waited = held.details["eventually"][0]
        assert waited["held"] and 1.0 < waited["waited_s"] < 5 and waited["polls"] >= 3
        assert consistency_s(held.details) == waited["waited_s"]  # the figure probes record, and export:
        from synthgate.probe.metrics import ProbeMetrics
        from synthgate.store import CheckState, ProbeResult

        metrics = ProbeMetrics("kv", "here")
        metrics.observe(ProbeResult("kv-read-after-write", time.time(), 1.0, "passed", "up",
                                    consistency_s=consistency_s(held.details)), CheckState("kv-read-after-write"))
        assert metrics.registry.get_sample_value("synthgate_probe_consistency_seconds", {
            "target": "kv", "check": "kv-read-after-write", "location": "here"}) == waited["waited_s"]
        missed = check("500ms")
        assert not missed.ok and "eventually: 0.5 s" in missed.message
        assert missed.details["eventually"][0]["held"] is False
    finally:
        server.shutdown()


def test_template_rollout_lines_use_real_options() -> None:
    """Every `synthgate rollout` line of the CI templates uses only options the command has."""
    import re

    from typer.main import get_command

    from synthgate.cli import app

    command = get_command(app).commands["rollout"]  # type: ignore[attr-defined]
    known = {opt for param in command.params
             for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]}
    examples = Path(__file__).resolve().parents[2] / "examples"
    lines = [line for p in examples.rglob("*.yml") for line in p.read_text().splitlines()
             if re.search(r"\bsynthgate rollout --", line) and not line.lstrip().startswith("#")]
    assert len(lines) >= 2
    for line in lines:
        used = set(re.findall(r"(?<!\S)(--[a-z-]+)", line.split("synthgate rollout", 1)[1]))
        assert used and used <= known, (line, used - known)
        assert {"--new", "--old", "--base-url", "--deadline"} <= used  # a deadline, so a cancelled job never leaves


def test_version_evidence_from_a_json_field() -> None:
    """A pure function: the version an answer names, from a dotted JSON field or a header."""
    from synthgate.version_pin import VersionPin, mismatch, served_by

    pin = VersionPin("v2", evidence_json="meta.version")
    assert served_by(httpx.Response(200, json={"meta": {"version": "v2"}}), None, "meta.version") == "v2"
    assert mismatch(httpx.Response(200, json={"meta": {"version": "v2"}}), pin) is None
    assert "answered by version v1" in str(mismatch(httpx.Response(200, json={"meta": {"version": "v1"}}), pin))
    assert mismatch(httpx.Response(200, text="<html>"), pin) is None  # names no version: not judged
    by_header = VersionPin("v2", evidence_header="X-Version")
    assert "no version evidence" in str(mismatch(httpx.Response(200), by_header))
    assert mismatch(httpx.Response(200, headers={"X-Version": "v2"}), by_header) is None


def test_rollout_block_reads_back_typed_and_writes_out_unchanged() -> None:
    """A pure function: verdict.json's `rollout` block as `synthgate rollout` writes it (keys it has not written
    stay absent, never null) reads into RolloutReport and dumps back key for key; a misspelled key is an error."""
    from pydantic import ValidationError

    from synthgate.results import RolloutReport

    split = {"new_percent": 10, "command": ["deploy", "v2@10%", "v1@90%"], "exit_code": 0, "duration_s": 0.9,
             "output": "deployed\n"}
    side = {"requests": 375, "errors": 0, "wrong_version": 0, "p50_ms": 31.376, "p95_ms": None}
    block = {
        "new": "v2", "old": "v1", "outcome": "stopped", "promoted": False, "stopped_at": {"step": 1, "percent": 10},
        "deadline_s": 2082, "pin": {"header": OVERRIDE, "value": 'demo="{version}"'}, "version_from": {"json": "m.v"},
        "steps": [
            {"step": 0, "percent": 0, "hold_s": 0.0, "status": "passed", "started_at": "2026-12-06T23:27:10+00:00",
             "split": {**split, "new_percent": 0}, "gate": {"verdict": "error", "exit_code": 5, "reason": "r",
                                                             "reports": "step-0/", "pinned_to": "v2",
                                                             "log": "step-0/logs/x.log"},
             "duration_s": 3.9, "failed": []},
            {"step": 1, "percent": 12.5, "hold_s": 3.0, "status": "failed", "started_at": "2026-12-06T23:27:21+00:00",
             "split": split, "smoke": {"new": {"status": "passed", "checks": 46, "failed": []}},
             "side_by_side": {"pairs": 380, "duration_s": 3.017, "new": side, "old": side},
             "comparisons": [{"task": "all tasks", "name": "latency[all tasks]", "kind": "latency",
                              "before": {"n": 375, "p50_ms": 5.657}, "after": {"n": 375, "p50_ms": 31.376},
                              "change": "P50 5.7->31.4 ms", "statistic": 126724.0, "p_value": 6.4e-81,
                              "decision": "regression", "reason": "slower"}],
             "duration_s": 9.2, "failed": ["compare.latency[all tasks]: slower"]},
            {"step": 2, "percent": 50, "hold_s": 60.0, "status": "cancelled",
             "started_at": "2026-12-06T23:27:36+00:00"},
        ],
        "split_back": {**split, "new_percent": 0, "exit_code": None, "ok": False},
        "verification": {"status": "failed", "checks": 3, "failed": ["health: 500"], "login": "failed"},
        "data": {"changes_data": True, "message": "m",
                 "snapshot": {"command": ["snap"], "exit_code": 0, "output": "{}", "stderr": "", "duration_s": 0.1,
                              "ok": True},
                 "restore": {"ran": True, "command": ["restore", "{}"], "exit_code": None, "ok": False,
                             "duration_s": 30.0, "output": "", "message": "restore timed out after 30 s"}},
        "recorded_as_last_good": True,
    }
    typed = RolloutReport.model_validate(block)
    assert json.dumps(typed.model_dump(mode="json")) == json.dumps(block)  # same keys, same order, same values
    assert typed.steps[1].side_by_side and typed.steps[1].side_by_side.new.p50_ms == 31.376
    assert typed.steps[2].duration_s is None and typed.version_from and typed.version_from.json_field == "m.v"
    fresh = RolloutReport(new="v2", old="v1", deadline_s=60.5, pin=typed.pin, data={"changes_data": False,
                                                                                    "message": "m"})
    fresh.data.restore = typed.data.restore.model_copy(update={"ran": False}) if typed.data.restore else None
    assert fresh.model_dump(mode="json") == {
        "new": "v2", "old": "v1", "outcome": "running", "promoted": False, "stopped_at": None, "deadline_s": 60.5,
        "pin": block["pin"], "version_from": None, "steps": [], "split_back": None, "verification": None,
        "data": {"changes_data": False, "message": "m", "restore": {"ran": False, "message": block["data"][
            "restore"]["message"]}}}
    with pytest.raises(ValidationError, match="stoped_at"):
        RolloutReport.model_validate({**block, "stoped_at": None})


# -- tool errors: exit 5, never a deployment failure -------------------------------------------------------------

def _deploy_unless(state: Path, refuse: str) -> list[str]:
    """A split command that refuses when the new version's percent is `refuse` ('*': always), else deploys."""
    script = ("import subprocess, sys\n"
              f"if {refuse!r} in ('*', sys.argv[1]): sys.exit('the platform refused: quota exceeded')\n"
              f"sys.exit(subprocess.run([sys.executable, '-m', 'synthgate', 'demo', 'versions', 'deploy', '--state', "
              f"{str(state)!r}, sys.argv[2] + '@' + sys.argv[1] + '%', sys.argv[4] + '@' + sys.argv[3] + '%']"
              ").returncode)")
    return [sys.executable, "-c", script, "{new_percent}", "{new}", "{old_percent}", "{old}"]


def test_a_refused_split_is_an_error_and_the_split_goes_back(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    profile = profile_for(state, tmp_path / "p.yaml", rollout={
        "steps": [{"percent": 10, "hold_s": 0}, {"percent": 100}], "set_split": _deploy_unless(state, "10")})
    verdict = rollout(profile, url, new, old, tmp_path / "r")
    assert (verdict.verdict, verdict.exit_code) == ("error", 5), verdict.reason
    assert versions.status(state)["split"] == {old: 100}
    saved = saved_verdict(tmp_path / "r")
    assert saved["verdict"] == "error" and saved["log"] == "logs/rollout-split-step0.log"
    assert "quota exceeded" in (tmp_path / "r" / saved["log"]).read_text()
    assert "quota exceeded" in saved["reason"] and "not evidence" in saved["reason"]
    r = saved["rollout"]
    assert r["split_back"]["ok"] and r["verification"]["status"] == "passed" and saved["rollback"]["verified"]
    assert "no evidence against it" in (tmp_path / "r" / "summary.md").read_text()


@pytest.mark.parametrize("on", [["fail"], ["fail", "error"]])
def test_a_tool_error_rolls_the_code_back_only_when_asked(stand_in: tuple[str, Path], tmp_path: Path,
                                                          on: list[str]) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    marker = tmp_path / "rolled-back"
    profile = profile_for(state, tmp_path / "p.yaml", rollout={
        "steps": [{"percent": 10, "hold_s": 0}, {"percent": 100}], "set_split": _deploy_unless(state, "*")},
        rollback={"command": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"], "on": on,
                  "timeout_s": 30})
    verdict = rollout(profile, url, new, old, tmp_path / "r")
    assert (verdict.verdict, verdict.exit_code) == ("error", 5), verdict.reason
    assert verdict.rollout.split_back and not verdict.rollout.split_back.ok and "a human must act" in verdict.reason
    assert marker.exists() == ("error" in on)  # the split back failed: the code rollback only when asked
    saved_verdict(tmp_path / "r")
    assert versions.status(state)["split"] == {old: 100}  # the refusing platform never moved anything


def test_a_failed_snapshot_is_an_error_before_any_split(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    splits = tmp_path / "splits"
    profile = profile_for(state, tmp_path / "p.yaml", rollout={
        "changes_data": True,
        "set_split": [sys.executable, "-c", f"open({str(splits)!r}, 'a').write('x')", "{new}", "{old}"]},
        rollback={"command": [sys.executable, "-c", "pass"], "timeout_s": 30, "restore": ["true", "{snapshot}"],
                  "snapshot": [sys.executable, "-c", "import sys; sys.exit('no such database: prod')"]})
    verdict = rollout(profile, url, new, old, tmp_path / "r")
    assert (verdict.verdict, verdict.exit_code) == ("error", 5), verdict.reason
    assert not splits.exists() and verdict.rollout.steps == [] and not verdict.rollback.triggered
    assert "no such database" in (tmp_path / "r" / str(verdict.log)).read_text()
    assert verdict.rollout.outcome == "not started" and "no traffic was moved" in verdict.reason
    assert saved_verdict(tmp_path / "r")["rollout"]["steps"] == []


def test_synthgate_crashing_mid_way_is_an_error_and_the_split_goes_back(stand_in: tuple[str, Path],
                                                                       tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    new = versions.upload(state)
    seen: list[dict[str, int]] = []

    def progress(text: str) -> None:  # the caller's own callback breaks once traffic moved: synthgate's code
        split = versions.status(state)["split"]
        if new in split and not seen:
            seen.append(split)
            raise RuntimeError("progress sink went away")

    from synthgate.rollout.runner import RolloutOptions, run_rollout

    profile = profile_for(state, tmp_path / "p.yaml", rollout={"steps": [{"percent": 10, "hold_s": 0},
                                                                         {"percent": 100}]})
    verdict = run_rollout(RolloutOptions(profile=str(profile), new=new, old=old, base_url=url,
                                         reports_dir=tmp_path / "r", progress=progress))
    assert seen == [{new: 10, old: 90}]  # it crashed with traffic on the new version
    assert (verdict.verdict, verdict.exit_code) == ("error", 5), verdict.reason
    assert versions.status(state)["split"] == {old: 100}
    saved = saved_verdict(tmp_path / "r")
    assert saved["verdict"] == "error" and saved["rollout"]["outcome"] == "error"
    assert saved["rollout"]["split_back"]["ok"]
    assert "RuntimeError: progress sink went away" in (tmp_path / "r" / saved["log"]).read_text()
    assert "progress sink went away" in saved["reason"] and f"split back to {old}" in saved["reason"]


# -- version evidence in the load stage and the journeys ---------------------------------------------------------

def _pinned_load(url: str, folder: Path, version: str) -> Any:
    """The load stage, in-process, pinned to `version` like the step-0 gate pins it."""
    from synthgate.profile.model import Profile
    from synthgate.stage_options import StageOptions
    from synthgate.stages import StageContext, stage_runner
    from synthgate.version_pin import VersionPin

    pin = VersionPin(version, {OVERRIDE: f'demo="{version}"'}, evidence_header="X-Demo-Version")
    profile = Profile.model_validate({"name": "versions", "headers": {"X-Synthetic-Check": "synthgate", **pin.headers},
                                      "load": {"tasks": [{"path": "/v1/health"}], "users": 2, "duration_s": 1.5,
                                               "thresholds": {"error_rate": 0.01}}})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json", by_alias=True)))
    return stage_runner("load")(StageContext(profile=profile, profile_path=path, base_url=url, reports_dir=folder,
                                             progress=lambda text: None, options=StageOptions(pin=pin.to_option())))


def test_load_counts_answers_from_another_version_as_no_data(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    right = _pinned_load(url, tmp_path / "right", old)
    check = next(c for c in right.checks if c.id == "load.version")
    assert check.status == "passed" and check.details["wrong_version"] == 0 and check.details["answers"] > 20
    assert right.status == "passed", [c.message for c in right.failed_checks]
    # a version outside the deployment: the platform ignores the override, every answer is the live version's
    wrong = _pinned_load(url, tmp_path / "wrong", "v999")
    check = next(c for c in wrong.checks if c.id == "load.version")
    assert check.status == "failed" and check.kind == "no-data", check.message
    assert check.details["wrong_version"] == check.details["answers"] > 20
    assert not any(c.is_evidence_failure for c in wrong.checks)  # nothing measured is held against v999


def test_a_journey_answered_by_another_version_is_no_data(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    from synthgate import version_pin
    from synthgate.e2e.runner import BrowserSession
    from synthgate.profile.model import Profile

    url, state = stand_in
    old = live(state)

    def journey(session: BrowserSession, version: str) -> Any:
        pin = version_pin.VersionPin(version, {OVERRIDE: f'demo="{version}"'}, evidence_header="X-Demo-Version")
        profile = Profile.model_validate({"name": "versions", "headers": pin.headers, "e2e": {"retries": 0},
                                          "journeys": [{"id": "landing", "kind": "landing", "path": "/"}]})
        version_pin.activate(pin)
        try:
            run = session.run(profile, url, tmp_path / version)
        finally:
            version_pin.activate(None)
        return next(iter(run.results.values()))

    with BrowserSession() as session:
        right = journey(session, old)
        wrong = journey(session, "v999")  # outside the deployment: the override is ignored, the live one answers
    assert right.status == "passed", right.message
    assert wrong.status == "failed" and wrong.kind == "no-data", wrong.message
    assert f"answered by version {old}" in wrong.message and "v999" in wrong.message


# -- version evidence in the fuzz stage --------------------------------------------------------------------------

def _pinned_fuzz(url: str, folder: Path, version: str) -> Any:
    """The fuzz stage (its suite in a child process, as the gate runs it), pinned to `version` like step 0 pins it:
    the demo's campaign reads, a few seconds."""
    from synthgate.profile.model import Profile
    from synthgate.stage_options import StageOptions
    from synthgate.stages import StageContext, stage_runner
    from synthgate.version_pin import VersionPin

    pin = VersionPin(version, {OVERRIDE: f'demo="{version}"'}, evidence_header="X-Demo-Version")
    demo = yaml.safe_load((targets_dir() / "demo.yaml").read_text())
    campaign = next(e for e in demo["fuzz"]["endpoints"] if e["id"] == "campaign")
    profile = Profile.model_validate({"name": "versions", "headers": {"X-Synthetic-Check": "synthgate", **pin.headers},
                                      "fuzz": {"endpoints": [campaign], "max_time_s": 2, "max_examples": 15,
                                               "error_fields": demo["fuzz"]["error_fields"]}})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json", by_alias=True, exclude_none=True)))
    return stage_runner("fuzz")(StageContext(profile=profile, profile_path=path, base_url=url, reports_dir=folder,
                                             progress=lambda text: None,
                                             options=StageOptions(pin=pin.to_option(), seed=3)))


def test_fuzz_answers_from_another_version_are_no_data(stand_in: tuple[str, Path], tmp_path: Path) -> None:
    url, state = stand_in
    old = live(state)
    right = _pinned_fuzz(url, tmp_path / "right", old)
    check = next(c for c in right.checks if c.id == "fuzz.campaign")
    assert check.status == "passed", check.message
    assert "wrong_version" not in check.details and check.details["requests"] > 10
    # a version outside the deployment: the platform ignores the override, every answer is the live version's
    wrong = _pinned_fuzz(url, tmp_path / "wrong", "v999")
    check = next(c for c in wrong.checks if c.id == "fuzz.campaign")
    assert check.status == "failed" and check.kind == "no-data", check.message
    assert f"answered by version {old}" in check.message and "v999" in check.message
    assert check.details["wrong_version"] > 10 and check.details["pinned_to"] == "v999"
    assert not any(c.is_evidence_failure for c in wrong.checks)  # nothing the live version answered counts
