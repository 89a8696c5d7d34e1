"""The fuzz stage end to end against the embedded demo target: healthy runs pass, faults fail the gate with a
curl line that reproduces them by hand, the quota flow catches rate-limit-off, and no write is ever sent
without allow_writes."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import soak
import yaml
from verdicts import read_verdict

from synthgate.demo.server import EmbeddedTarget
from synthgate.profile import load_profile
from synthgate.results import StageResult
from synthgate.stage_options import StageOptions
from synthgate.stages import fuzz as fuzz_stage
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_suite

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "targets" / "demo.yaml"
SUITE_ARGS = ["--assert=plain", "-p", "no:schemathesis"]


def stage(profile: str | Path, url: str, reports: Path, only: str | None = None, **options: Any) -> StageResult:
    """The fuzz stage as the gate runs it (its suite in a child process); `only` selects tests with -k."""
    loaded, path = load_profile(str(profile))
    ctx = StageContext(profile=loaded, profile_path=path, base_url=url, reports_dir=reports,
                       progress=lambda _: None, options=StageOptions(**options))
    if only:
        return run_suite(ctx, "fuzz", timeout_s=180, extra_args=[*SUITE_ARGS, "-k", only])
    return fuzz_stage.run(ctx)


def demo_variant(tmp_path: Path, **fuzz: Any) -> Path:
    """A copy of the bundled demo profile with some fuzz settings changed (None removes one)."""
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for key, value in fuzz.items():
        if value is None:
            data["fuzz"].pop(key, None)
        else:
            data["fuzz"][key] = value
    path = tmp_path / "demo-variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_by_hand(command: str) -> str:
    """Run a reported curl line (or script) in a shell, as a person would paste it."""
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60).stdout


def test_healthy_demo_passes_every_round_without_flake(demo_target: Any, tmp_path: Path) -> None:
    # rounds in one run (ten in a soak): the same tests under seeds 11, 12..., at least 200 examples per endpoint each
    repeat = soak.rounds(full=10, quick=2)
    result = stage("demo", demo_target.url, tmp_path, repeat=repeat, seed=11, max_time_s=900)
    assert result.status == "passed", [(c.id, c.message) for c in result.failed_checks]
    rounds = Counter(c.id.split("#")[0] for c in result.checks)
    assert len(rounds) >= 10 and set(rounds.values()) == {repeat}, rounds
    for check in result.checks:
        assert check.status == "passed", (check.id, check.message)
        assert not check.details.get("budget_cut"), check.id
        if check.flaky:
            # a flaky pass may only be a latency blip of this shared machine, never a wrong answer; Hypothesis
            # stops generating at the blip (to replay it), so such a test ran fewer examples
            assert check.details["intermittent_properties"] == ["latency"], check.details
            continue
        small_space = check.details["examples"] < 200 and check.id.startswith(("fuzz.get-v1-health", "fuzz.get-api-s"))
        if not check.id.startswith("fuzz.flow.") and not small_space:  # those two take no input at all
            assert check.details["examples"] >= 200, (check.id, check.details)
    assert not (ROOT / ".hypothesis").exists()  # Hypothesis kept its files out of the project


@pytest.mark.parametrize(("fault", "evidence"), [("crash-on-bad-input", "HTTP/1.1 500"),
                                                 ("leak-stacktrace", "Traceback (most recent call last)")])
def test_fault_fails_the_gate_with_a_curl_that_reproduces_it(fault: str, evidence: str, cli: Any,
                                                            tmp_path: Path) -> None:
    # the bundled profile's own run (200 examples, 30 s) is the acceptance check; a fault is found in far fewer
    profile = demo_variant(tmp_path, max_examples=30, max_time_s=15)
    with EmbeddedTarget(fault=fault) as target:  # kept running: the curl lines are tried against it afterwards
        proc = cli("run", "--profile", str(profile), "--base-url", target.url, "--stages", "fuzz", "--no-rollback",
                   "--seed", "7", "--reports", str(tmp_path / "reports"), timeout=240)
        assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
        verdict = read_verdict(tmp_path / "reports")
        summary = (tmp_path / "reports" / "summary.md").read_text(encoding="utf-8")
        # the 5xx a crash answers also exceed the gate's server-error budget: that check is not a fuzz one
        failed = [c for s in verdict["stages"] if s["name"] != "server-errors" for c in s["checks"]
                  if c["status"] == "failed"]
        assert failed and all(c["id"].startswith("fuzz.") for c in failed)
        # on a busy machine another endpoint's coverage may run out of the stage's time: no data, never a pass
        cut = [c for c in failed if c["kind"] == "no-data"]
        assert all("time budget ran out" in c["message"] for c in cut), cut
        failed = [c for c in failed if c not in cut]
        assert failed
        for check in failed:
            assert check["kind"] == "assertion" and check["curl"] and "property " in check["message"]
            assert check["curl"] in summary and "reproduce: " in check["message"]
            assert evidence in run_by_hand(check["curl"]), (check["id"], check["curl"][:300])
            har = next(e for e in check["evidence"] if e.startswith("har/"))  # the failing example as a HAR
            assert json.loads((tmp_path / "reports" / har).read_text(encoding="utf-8"))["log"]["entries"]
        # shrunk: the smallest reproduction is a short command, not a 20 KB body
        assert min(len(c["curl"]) for c in failed) < 600
    assert "curl " in summary


def test_rate_limit_off_is_caught_by_the_quota_flow(tmp_path: Path) -> None:
    with EmbeddedTarget(fault="rate-limit-off") as target:
        result = stage("demo", target.url, tmp_path, seed=5, only="quota")
        [check] = result.checks
        assert check.status == "failed" and check.id == "fuzz.flow.quota-generate"
        assert check.details["properties"] == ["quota"] and "answered 200, expected [402]" in check.message
        script = check.curl or ""
        assert script.count("curl ") == 2 and "-b \"$jar1\" -c \"$jar1\"" in script  # shrunk to two requests
        replies = re.findall(r"^HTTP/1.1 (\d{3})", run_by_hand(script), flags=re.M)
        assert replies == ["200", "200"]  # the second generation is not refused
        healthy = stage("demo", target.url, tmp_path / "again", seed=5, max_examples=40, only="create")
        assert healthy.status == "passed"  # the other flow holds on this release


class CountingProxy:
    """A loopback HTTP proxy that forwards to the target and records every request's method and headers."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[tuple[str, str | None]] = []  # (method, X-Synthetic-Check header)
        client = httpx.Client(timeout=10, follow_redirects=False)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.seen.append((self.command, self.headers.get("X-Synthetic-Check")))
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                r = client.request(self.command, upstream + self.path, headers=headers, content=body)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(r.content)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.client = client
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


@pytest.fixture
def proxy(demo_target: Any) -> Iterator[CountingProxy]:
    counting = CountingProxy(demo_target.url)
    yield counting
    counting.close()


def test_without_allow_writes_only_get_and_head_reach_the_target(proxy: CountingProxy, tmp_path: Path) -> None:
    profile = demo_variant(tmp_path, allow_writes=False, max_examples=25)
    result = stage(profile, proxy.url, tmp_path / "reports", seed=3)
    methods = Counter(method for method, _ in proxy.seen)
    assert methods["GET"] > 60 and set(methods) <= {"GET", "HEAD"}, methods
    assert {header for _, header in proxy.seen} == {"synthgate"}  # every request marked as synthetic traffic
    assert result.status == "passed", [(c.id, c.message) for c in result.failed_checks]
    by_id = {c.id: c for c in result.checks}
    for write in ("fuzz.generate", "fuzz.intake", "fuzz.login", "fuzz.password-reset", "fuzz.flow.quota-generate"):
        assert by_id[write].status == "skipped" and "allow_writes" in by_id[write].message
    assert by_id["fuzz.flow.create-read-intake"].status == "passed"  # reads of unknown ids still run


def test_declared_fields_drive_the_fuzzing_without_an_openapi_document(tmp_path: Path) -> None:
    profile = demo_variant(tmp_path, openapi=None, max_examples=60)
    with EmbeddedTarget() as healthy:
        result = stage(profile, healthy.url, tmp_path / "healthy", seed=9, only="test_endpoint")
    assert result.status == "passed", [(c.id, c.message) for c in result.failed_checks]
    assert {c.id for c in result.checks} == {"fuzz.generate", "fuzz.intake", "fuzz.login", "fuzz.password-reset",
                                             "fuzz.campaign"}
    with EmbeddedTarget(fault="crash-on-bad-input") as broken:
        result = stage(profile, broken.url, tmp_path / "broken", seed=9, only="test_endpoint")
        crashed = {c.id: c for c in result.checks if c.status == "failed"}
        assert {"fuzz.generate", "fuzz.intake"} <= set(crashed), [(c.id, c.status) for c in result.checks]
        for check in crashed.values():
            assert "never-5xx" in check.details["properties"]
            assert "HTTP/1.1 500" in run_by_hand(check.curl or "")


def test_an_unavailable_openapi_document_fails_with_a_clear_message(demo_target: Any, tmp_path: Path) -> None:
    profile = demo_variant(tmp_path, openapi="/nope.json", max_examples=5)
    result = stage(profile, demo_target.url, tmp_path / "reports", seed=1, only="test_operation")
    [check] = result.checks
    assert check.id == "fuzz.openapi" and check.status == "failed" and check.kind == "assertion"
    assert "/nope.json answered 404, expected 200" in check.message
