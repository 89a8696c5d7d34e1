"""Whatever a hostile or broken target does, the gate ends with a verdict, within its deadline and bounded memory.

Each target is a raw-socket server of tests/self/hostile_server.py on loopback; the gate runs as a user runs it
(`synthgate run ... --stages smoke --deadline N`) in a child process, whose peak memory is read back from
getrusage(RUSAGE_CHILDREN).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import hostile_server as hs
import httpx
import pytest
from verdicts import read_verdict

from synthgate.http import BoundedClient, send_raw

DEADLINE_S = 30
MEMORY_LIMIT_KB = 1024 * 1024  # 1 GiB
PROFILE = """\
name: hostile
tls: {enabled: false}
health: {path: /, expect: {status: 200, json: {status: ok}}}
security: {enabled: false}
hygiene: {enabled: false}
defaults: {timeout_s: 2, retries: 0, backoff_s: 0}
"""  # one check (health), each request bounded by 2 s: the hostile answer is all that is judged


def _gate(tmp_path: Path, base_url: str, profile: str = PROFILE, deadline: float = DEADLINE_S,
          extra: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], float, dict]:
    """Run the gate against base_url: (process, wall seconds, verdict.json)."""
    path = tmp_path / "profile.yaml"
    path.write_text(profile)
    reports = tmp_path / "reports"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "synthgate", "run", "--profile", str(path), "--base-url", base_url,
                           "--stages", "smoke", "--no-rollback", "--deadline", str(deadline),
                           "--reports", str(reports), *extra],
                          capture_output=True, text=True, timeout=deadline + 60, stdin=subprocess.DEVNULL,
                          check=False)
    wall = time.monotonic() - started
    verdict_file = reports / "verdict.json"
    assert verdict_file.exists(), f"no verdict.json (exit {proc.returncode}): {proc.stdout[-800:]}{proc.stderr}"
    return proc, wall, json.loads(verdict_file.read_text())


def _messages(verdict: dict) -> str:
    return " | ".join(c["message"] for s in verdict["stages"] for c in s["checks"])


def _assert_bounded(proc: subprocess.CompletedProcess[str], wall: float, deadline: float = DEADLINE_S) -> None:
    assert wall < deadline, f"took {wall:.1f} s with --deadline {deadline}"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB, the largest child so far
    assert peak < MEMORY_LIMIT_KB, f"a child peaked at {peak // 1024} MiB"


# check id (and path) -> (handler, fragment its failure message must contain)
SCENARIOS = {
    "hang-after-headers": (hs.hang_after_headers, "deadline"),
    "trickle": (hs.trickle, "deadline"),
    "gzip-bomb": (hs.bomb("gzip"), "max_body_bytes"),
    "brotli-bomb": (hs.bomb("br"), "max_body_bytes"),
    "endless-chunked": (hs.endless_chunked, "max_body_bytes"),
    "1mb-header": (hs.huge_header, "RemoteProtocolError"),
    "invalid-utf8": (hs.body(b'{"status": "\xff\xfe ok"}'), "status"),
    "invalid-json": (hs.body(b'{"status": ok'), "JSON"),
    "redirect-loop": (hs.redirect_loop, "redirects"),
}


def test_hostile_answers_fail_their_checks_in_bounded_time_and_memory(tmp_path: Path) -> None:
    # one gate, one check per hostile behaviour (a gate run per behaviour would cost 5 s each on a busy machine)
    table = {f"/{name}": handler for name, (handler, _) in SCENARIOS.items()}
    checks = "".join(f"  - {{id: {name}, request: {{path: /{name}}}, expect: {{status: 200, json: {{status: ok}}}}}}\n"
                     for name in SCENARIOS)
    with hs.serve(hs.routes(table, hs.body(b'{"status": "ok"}'))) as port:
        proc, wall, verdict = _gate(tmp_path, f"http://127.0.0.1:{port}", PROFILE + "checks:\n" + checks)
    assert proc.returncode == 1, proc.stdout[-1500:] + proc.stderr
    assert verdict["verdict"] == "fail"
    results = {c["id"]: c for s in verdict["stages"] for c in s["checks"]}
    assert results["health"]["status"] == "passed"
    for name, (_, fragment) in SCENARIOS.items():
        assert results[name]["status"] == "failed", results[name]
        assert fragment in results[name]["message"], (name, results[name]["message"])
    _assert_bounded(proc, wall)


@pytest.mark.parametrize("handler", [hs.bomb("gzip"), hs.trickle], ids=["gzip-bomb", "trickle"])
def test_a_hostile_health_endpoint_still_ends_in_a_verdict(tmp_path: Path, handler: hs.Handler) -> None:
    with hs.serve(handler) as port:
        proc, wall, verdict = _gate(tmp_path, f"http://127.0.0.1:{port}")
    assert proc.returncode == 1 and verdict["verdict"] == "fail", proc.stdout[-1500:] + proc.stderr
    _assert_bounded(proc, wall)


def test_a_server_that_never_reads_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    with hs.serve(hs.never_reads) as port:
        proc, wall, verdict = _gate(tmp_path, f"http://127.0.0.1:{port}")
    assert proc.returncode == 1, proc.stdout[-1500:] + proc.stderr
    assert verdict["verdict"] == "fail" and "2 s" in _messages(verdict), _messages(verdict)
    _assert_bounded(proc, wall)


@pytest.mark.parametrize(("deadline_s", "read_s"), [(0.5, 0.5), (5.0, 0.4)], ids=["same-bound", "read-first"])
def test_a_read_timeout_and_the_deadline_say_the_same(deadline_s: float, read_s: float) -> None:
    # on a loaded machine the socket's read timeout may fire before the watchdog (CI saw it): one message either way
    with hs.serve(hs.never_reads) as port, BoundedClient(deadline_s=deadline_s, timeout=httpx.Timeout(read_s)) as c:
        ex = send_raw(c, "GET", f"http://127.0.0.1:{port}/")
    assert ex.response is None and ex.error_kind == "error"
    assert ex.error == f"no complete response headers within the {read_s:g} s deadline (timeout_s)", ex.error


def test_tls_name_mismatch_is_a_failure(tmp_path: Path) -> None:
    cert, key = hs.self_signed(tmp_path, "not-this-host.synthgate.invalid")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    profile = PROFILE.replace("tls: {enabled: false}", f"tls: {{enabled: false, ca_bundle: {cert}}}")  # trusted
    with hs.serve(hs.body(b'{"status": "ok"}'), tls=context) as port:
        proc, wall, verdict = _gate(tmp_path, f"https://127.0.0.1:{port}", profile)
    assert proc.returncode == 1, proc.stdout[-1500:] + proc.stderr
    assert "TLS" in _messages(verdict) or "certificate" in _messages(verdict).lower(), _messages(verdict)
    _assert_bounded(proc, wall)


def test_the_deadline_ends_a_stage_and_marks_its_unfinished_checks(tmp_path: Path) -> None:
    # 8 checks that each hang for their 2 s: 16 s of smoke, cut by a 14 s deadline
    routes = "".join(f"  - {{id: c{n}, request: {{path: /c{n}}}, expect: {{status: 200}}}}\n" for n in range(8))
    profile = PROFILE + "checks:\n" + routes
    with hs.serve(hs.hang_after_headers) as port:
        proc, wall, verdict = _gate(tmp_path, f"http://127.0.0.1:{port}", profile, deadline=14)
    assert proc.returncode == 1, proc.stdout[-1500:] + proc.stderr
    checks = {c["id"]: c for s in verdict["stages"] for c in s["checks"]}
    assert "process group was killed" in checks["smoke.time-limit"]["message"]
    timed_out = [c for c in checks.values() if c["message"].startswith("timed out")]
    assert timed_out and all(c["status"] == "failed" for c in timed_out)
    _assert_bounded(proc, wall, deadline=14)


def test_rollback_timeout_kills_its_whole_process_group(tmp_path: Path) -> None:
    marker = f"{os.getpid() % 1000}.{time.monotonic_ns() % 100000}"  # a unique sleep duration to look for
    profile = PROFILE + (f"rollback: {{command: 'sleep 9{marker} & sleep 8{marker}', shell: true, timeout_s: 1, "
                         "verify: false}\n")
    path = tmp_path / "profile.yaml"
    path.write_text(profile)
    with hs.serve(hs.server_error) as port:
        proc = subprocess.run([sys.executable, "-m", "synthgate", "run", "--profile", str(path), "--base-url",
                               f"http://127.0.0.1:{port}", "--stages", "smoke", "--deadline", "30",
                               "--reports", str(tmp_path / "reports")],
                              capture_output=True, text=True, timeout=90, check=False)
    verdict = read_verdict(tmp_path / "reports")
    assert proc.returncode == 3, proc.stdout[-1500:] + proc.stderr
    assert "process group" in verdict["rollback"]["output"]
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", f"sleep [89]{marker}"], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == "", f"rollback processes left running: {left.stdout}"


def test_embedded_demo_target_dies_with_a_killed_parent(tmp_path: Path) -> None:
    code = ("from synthgate.demo.server import EmbeddedTarget\nimport sys, time\n"
            "t = EmbeddedTarget(); t.start(); print(t.port, flush=True); time.sleep(300)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).status_code == 200
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return  # nobody listens any more: the target went with its parent
            time.sleep(0.2)
        pytest.fail(f"the demo target on port {port} outlived its parent killed with SIGKILL")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_stage_processes_end_with_a_gate_killed_with_sigkill(tmp_path: Path) -> None:
    routes = "".join(f"  - {{id: c{n}, request: {{path: /c{n}}}, expect: {{status: 200}}}}\n" for n in range(20))
    path = tmp_path / "slow-profile.yaml"
    path.write_text(PROFILE + "checks:\n" + routes)  # 40 s of hanging checks
    with hs.serve(hs.hang_after_headers) as port:
        gate = subprocess.Popen([sys.executable, "-m", "synthgate", "run", "--profile", str(path), "--base-url",
                                 f"http://127.0.0.1:{port}", "--stages", "smoke", "--no-rollback",
                                 "--reports", str(tmp_path / "reports")], stdout=subprocess.PIPE, text=True)
        try:
            assert gate.stdout is not None
            for line in gate.stdout:
                if line.startswith("stage smoke"):
                    break
            time.sleep(3)  # the pytest child is running its checks now
            running = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True, check=False)
            assert running.stdout.split(), "no stage process found to begin with"
            gate.send_signal(signal.SIGKILL)
            gate.wait(timeout=10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                left = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True, check=False)
                if not left.stdout.strip():
                    return
                time.sleep(0.3)
            pytest.fail(f"stage processes outlived the gate killed with SIGKILL: {left.stdout.split()}")
        finally:
            if gate.poll() is None:
                gate.kill()
