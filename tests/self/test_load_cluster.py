"""Load from several "machines": a master on 127.0.0.2, workers started apart (no profile, their own secrets),
the target on 127.0.0.3; real Locust over ZeroMQ, real HTTP.

- three workers each at their share deliver the asked open-model rate; merged P95/P99 equal those of one HDR
  histogram fed every sample; an endpoint slow only for one worker (its own secret makes it so) fails its task
  threshold on the merged data, while the master itself never resolved a secret;
- the Kubernetes recipe's commands (master Job, worker Job) run as written, with loopback hosts;
- a worker killed mid-run makes the run inconclusive; a worker with another profile is refused;
- the LocustTest's locustfiles and command seeds run under plain Locust.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthgate.loadgen.hdr import new_histogram, percentiles_ms
from synthgate.loadgen.runner import LoadRunSpec, run_load
from synthgate.profile import load_profile
from synthgate.stages.load import dropout_check, threshold_checks

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "examples" / "kubernetes"
SG = Path(sys.executable).with_name("synthgate")
MASTER_HOST, TARGET_HOST = "127.0.0.2", "127.0.0.3"
SLOW_S = 0.25
PROFILE = """\
name: cluster
secrets: {mode: {env: SG_TEST_MODE}}
load:
  users: 24
  tasks:
    - {name: fast, path: /fast, weight: 3}
    - {name: item, path: /item, weight: 1, headers: {X-Mode: "${secrets.mode}"}, thresholds: {p95_ms: 150}}
  thresholds: {p95_ms: 2000, error_rate: 0.01}
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/item" and self.headers.get("X-Mode") == "slow":
            time.sleep(SLOW_S)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server = ThreadingHTTPServer((TARGET_HOST, 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{TARGET_HOST}:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def free_port(host: str = MASTER_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_worker(tmp_path: Path, name: str, master: str, mode: str = "fast", *extra: str) -> subprocess.Popen[str]:
    """`synthgate load --worker` from an empty folder, with its own secret."""
    folder = tmp_path / name
    folder.mkdir()
    env = {**os.environ, "SG_TEST_MODE": mode}
    return subprocess.Popen([str(SG), "load", "--worker", "--master-host", master, *extra], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


def master_run(profile: Path, url: str, tmp_path: Path, workers: int, **kw: Any) -> tuple[Any, list[str], dict]:
    """run_load as a master for remote workers in a thread; returns (result, progress lines, holder)."""
    port = free_port()
    lines: list[str] = []
    holder: dict[str, Any] = {"bind": f"{MASTER_HOST}:{port}"}
    spec = LoadRunSpec(profile=str(profile), base_url=url, out_dir=tmp_path / "master", expect_workers=workers,
                       bind=holder["bind"], workers_wait_s=120, **kw)
    env_before = os.environ.pop("SG_TEST_MODE", None)  # the master never resolves a secret
    assert env_before is None

    def go() -> None:
        try:
            holder["result"] = run_load(spec, progress=lines.append)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            holder["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    holder["thread"] = thread
    return None, lines, holder


def test_three_workers_add_up_merge_exactly_and_a_slow_endpoint_fails_its_task(
        profile: Path, target: str, tmp_path: Path) -> None:
    _, lines, holder = master_run(profile, target, tmp_path, 3, arrival_rate=150, duration_s=8, users=24)
    workers = [start_worker(tmp_path, "w1", holder["bind"], "slow"),
               start_worker(tmp_path, "w2", holder["bind"]), start_worker(tmp_path, "w3", holder["bind"])]
    try:
        holder["thread"].join(timeout=120)
    finally:
        stop(workers)
    assert "error" not in holder, holder.get("error")
    r = holder["result"]
    # rates add up: three workers at 50 req/s each deliver the asked 150 req/s
    assert abs(r.rps - 150) <= 0.05 * 150, (r.rps, r.requests, r.duration_s)
    took_part = r.cluster["workers"]
    assert len(took_part) == 3 and all(w["requests"] > 0 for w in took_part) and not r.cluster["dropped"]
    assert any("workers " in line and "req/s" in line for line in lines), lines[-3:]  # each worker's rate
    # merged percentiles equal those of one histogram fed every sample (the reservoirs hold all of them here)
    every = new_histogram()
    for name, samples in r.samples_ms.items():
        assert len(samples) == r.per_request[name]["samples"]
        one = new_histogram()
        for ms in samples:
            one.record_value(round(ms * 1000))
            every.record_value(round(ms * 1000))
        exact = percentiles_ms(one, (95, 99))
        assert (r.per_request[name]["p95_ms"], r.per_request[name]["p99_ms"]) == (exact["p95"], exact["p99"])
    exact = percentiles_ms(every, (95, 99))
    assert (r.p95_ms, r.p99_ms) == (exact["p95"], exact["p99"])
    # the endpoint one worker saw slow fails its task threshold, judged on the merged data
    cfg = load_profile(str(profile))[0].load
    checks = {c.id: c for c in threshold_checks(r, cfg)}
    assert checks["load.p95[item]"].status == "failed" and checks["load.p95[item]"].details["measured"] >= SLOW_S * 1000
    assert checks["load.p95[fast]"].status == "passed" and checks["load.p95"].status == "passed"
    assert dropout_check(r).status == "passed"  # type: ignore[union-attr]


def test_a_killed_worker_makes_the_run_inconclusive_and_a_mismatched_worker_is_refused(
        profile: Path, target: str, tmp_path: Path) -> None:
    _, _, holder = master_run(profile, target, tmp_path, 2, arrival_rate=100, duration_s=8, users=16)
    other = tmp_path / "other.yaml"
    other.write_text(PROFILE.replace("users: 24", "users: 25"), encoding="utf-8")
    refused = start_worker(tmp_path, "bad", holder["bind"], "fast", "--profile", str(other))
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 2, out
    assert "refused by the master" in out and "differs from the master's" in out, out
    workers = [start_worker(tmp_path, "w1", holder["bind"]), start_worker(tmp_path, "w2", holder["bind"])]
    try:
        deadline = time.monotonic() + 60
        log = tmp_path / "master" / "locust.log"
        while time.monotonic() < deadline and "Sending spawn jobs" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.2)
        time.sleep(3)
        os.killpg(workers[1].pid, signal.SIGKILL)  # mid-run
        holder["thread"].join(timeout=120)
    finally:
        stop(workers)
    assert "error" not in holder, holder.get("error")
    r = holder["result"]
    assert len(r.cluster["dropped"]) == 1 and r.cluster["refused"], r.cluster
    check = dropout_check(r)
    assert check is not None and check.status == "failed" and check.kind == "no-data", check
    assert "dropped out" in check.message and r.rps < 0.95 * 100


def _container(doc_kind: str, name: str) -> dict[str, Any]:
    docs = list(yaml.safe_load_all((K8S / "load-distributed.yaml").read_text(encoding="utf-8")))
    job = next(d for d in docs if d and d["kind"] == doc_kind and d["metadata"]["name"] == name)
    return job["spec"]["template"]["spec"]["containers"][0]


def test_the_kubernetes_job_commands_run_as_written(target: str, tmp_path: Path) -> None:
    """The master Job's and worker Job's args, with the ConfigMap's profile and loopback hosts, give a verdict."""
    docs = list(yaml.safe_load_all((K8S / "load-distributed.yaml").read_text(encoding="utf-8")))
    config = next(d for d in docs if d and d["kind"] == "ConfigMap")
    profile = yaml.safe_load(config["data"]["profile.yaml"])
    profile["load"].update(duration_s=4, arrival_rate=60, users=8)  # the recipe's run, shortened
    for task in profile["load"]["tasks"]:
        task["path"] = "/fast"
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    port = free_port()
    master_args = [a.replace("/etc/synthgate/profile.yaml", str(tmp_path / "profile.yaml"))
                   .replace("$(BASE_URL)", target).replace("*:5557", f"{MASTER_HOST}:{port}")
                   .replace("/tmp/reports", str(tmp_path / "reports"))
                   for a in _container("Job", "synthgate-load-master")["args"]]
    expect = int(master_args[master_args.index("--expect-workers") + 1])
    master = subprocess.Popen([str(SG), *master_args], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    worker_args = [a.replace("synthgate-load-master:5557", f"{MASTER_HOST}:{port}")
                   for a in _container("Job", "synthgate-load-workers")["args"]]
    env = {**os.environ, "MYAPP_TOKEN": "t0ken-from-the-worker"}
    workers = []
    for i in range(expect):
        (tmp_path / f"w{i}").mkdir()
        workers.append(subprocess.Popen([str(SG), *worker_args], cwd=tmp_path / f"w{i}", env=env, text=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        out, _ = master.communicate(timeout=120)
    finally:
        stop([master, *workers])
    assert master.returncode == 0, out[-2000:]
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "pass" and abs(verdict["load"]["rps"] - 60) <= 6, verdict["load"]
    load = next(s for s in verdict["stages"] if s["name"] == "load")
    assert len(load["details"]["run"]["cluster"]["workers"]) == expect
    assert "t0ken-from-the-worker" not in json.dumps(verdict)


def test_the_locust_operator_seeds_run_with_the_configmap_files(target: str, tmp_path: Path) -> None:
    """The LocustTest's ConfigMap files and command seeds under plain Locust: a master and two workers."""
    docs = [d for d in yaml.safe_load_all((K8S / "locust-operator.yaml").read_text(encoding="utf-8")) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    test = next(d for d in docs if d["kind"] == "LocustTest")
    assert test["apiVersion"] == "locust.io/v1" and test["spec"]["workerReplicas"] >= 1
    src = tmp_path / "lotest" / "src"
    src.mkdir(parents=True)
    for name, text in config["data"].items():
        (src / name).write_text(text.replace("/v1/health", "/fast").replace("/v1/items", "/fast"), encoding="utf-8")
    port = free_port()
    seed = [a.replace("/lotest/src", str(src)).replace("https://myapp.example.com", target).replace("5m", "3s")
            .replace("300", "40") for a in shlex.split(test["spec"]["masterCommandSeed"])]
    # the operator adds the cluster flags; here with loopback hosts
    master = subprocess.Popen([sys.executable, "-m", "locust", *seed, "--master", "--master-bind-host", MASTER_HOST,
                               "--master-bind-port", str(port), "--expect-workers", "2", "--headless",
                               "--only-summary"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    wseed = [a.replace("/lotest/src", str(src)) for a in shlex.split(test["spec"]["workerCommandSeed"])]
    workers = [subprocess.Popen([sys.executable, "-m", "locust", *wseed, "--worker", "--master-host", MASTER_HOST,
                                 "--master-port", str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True) for _ in range(2)]
    try:
        out, _ = master.communicate(timeout=90)
    finally:
        stop([master, *workers])
    assert "synthgate HDR latency" in out, out[-2000:]
    row = next(line for line in out.splitlines() if line.startswith("Aggregated"))
    requests = int(row.split()[1])
    assert requests > 40 and " 0 " in f" {row.split()[2]} ", row  # sent, and no failure
