"""`synthgate probe` end to end: real demo target, real probe processes, a real loopback webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synthgate.demo import releases
from synthgate.demo.server import EmbeddedTarget

HOOK_TOKEN = "T0KEN-9f8e7d6c5b4a"  # the secret part of the webhook URL: must never be written anywhere


class Receiver:
    """A loopback webhook receiver that records what it is sent (optionally slowly)."""

    def __init__(self, delay_s: float = 0.0, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[str, Any]] = []
        self.delay_s = delay_s
        self.statuses = list(statuses or [])  # answers to give first (then 200)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(outer.delay_s)
                status = outer.statuses.pop(0) if outer.statuses else 200
                if status == 200:
                    outer.received.append((self.path, json.loads(body)))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting (the slow receiver): nothing to answer
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, path: str) -> list[str]:
        """The alert events received on a path (slack bodies carry them in their text)."""
        out = []
        for p, body in self.received:
            if p == path:
                out.append(body.get("event") or body["text"].split(":")[0].removeprefix("[synthgate] ").lower())
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_alert_delivery_retries_in_order_and_the_command_channel_gets_json(tmp_path: Path) -> None:
    from synthgate.probe.alerts import AlertDispatcher, CommandChannel, WebhookChannel
    from synthgate.store import Store

    flaky = Receiver(statuses=[500])  # the first delivery fails, the retry succeeds
    out = tmp_path / "alerts.jsonl"
    writer = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')"
    channels = [
        WebhookChannel("alerts[0].webhook", "webhook test", timeout_s=2, retries=3, url=flaky.url + "/hook"),
        CommandChannel("alerts[1].command", "command ok", timeout_s=10, retries=0,
                       argv=(sys.executable, "-c", writer, str(out))),
        CommandChannel("alerts[2].command", "command broken", timeout_s=10, retries=1,
                       argv=(sys.executable, "-c", "import sys; sys.exit(3)")),
    ]
    docs = [{"event": e, "text": f"[synthgate] {e.upper()}: demo"} for e in ("down", "recovered")]
    logged: list[str] = []
    try:
        with Store(tmp_path / "s.db") as store:
            store.save_states("demo", "eu", [], None, [(d["event"], c.key, d) for d in docs for c in channels])
            dispatcher = AlertDispatcher(store, "demo", "eu", channels, log=logged.append, backoff_s=0.1)
            dispatcher.start()
            wait_for("every alert settled",
                     lambda: all(a.status != "pending" for a in store.alerts("demo", "eu")), timeout=30)
            assert dispatcher.close(1.0) == 0
            alerts = {(a.channel, a.event): a for a in store.alerts("demo", "eu")}
    finally:
        flaky.close()
    assert flaky.events("/hook") == ["down", "recovered"]  # in order, although "down" needed a retry
    first = alerts[("alerts[0].webhook", "down")]
    assert first.attempts == 2 and first.status == "sent"
    assert [json.loads(line)["event"] for line in out.read_text().splitlines()] == ["down", "recovered"]
    broken = alerts[("alerts[2].command", "down")]
    assert broken.status == "failed" and broken.attempts == 2 and "exited 3" in (broken.last_error or "")
    assert any("FAILED after 2 attempt(s)" in line for line in logged)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_profile(path: Path, probe: str, alerts: str = "[]", checks: bool = True) -> Path:
    """A small profile for the demo target: health (and one more check), no retries, fast intervals."""
    extra = """
checks:
  - id: manuscripts-require-auth
    request: {method: GET, path: /manuscripts}
    expect: {status: 401}
""" if checks else ""
    path.write_text(f"""
name: probe-test
defaults: {{timeout_s: 2, retries: 0, backoff_s: 0.1, latency_budget_ms: 1500}}
health: {{path: /v1/health, expect: {{status: 200, json: {{status: ok}}}}}}
security: {{enabled: false}}
{extra}
probe: {probe}
alerts: {alerts}
""")
    return path


def start_probe(tmp: Path, *args: str, env: dict[str, str] | None = None, tag: str = "probe") -> subprocess.Popen[str]:
    """A probe process, its output in files (never a pipe that could fill up and block it)."""
    out = open(tmp / f"{tag}.out", "w")  # noqa: SIM115 - closed with the process
    errf = open(tmp / f"{tag}.err", "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "synthgate", "probe", *args], stdout=out, stderr=errf,
                            stdin=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the probe's database from outside, as another process would."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def wait_for(what: str, cond: Callable[[], Any], timeout: float = 15.0, proc: subprocess.Popen[str] | None = None,
             tmp: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    logs = "" if tmp is None else "\n".join(p.read_text()[-2000:] for p in sorted(tmp.glob("*.err")))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def health_results(db: Path) -> list[sqlite3.Row]:
    return rows(db, "SELECT * FROM probe_results WHERE check_id='health' ORDER BY id")


def stop(proc: subprocess.Popen[str], timeout: float = 20.0) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


@pytest.fixture()
def target() -> Iterator[EmbeddedTarget]:
    with EmbeddedTarget() as running:
        yield running


def test_once_exit_codes_healthy_faulty_unreachable(tmp_path: Path, target: EmbeddedTarget, cli: Any) -> None:
    profile = write_profile(tmp_path / "p.yaml", "{every: 1s}")
    db = tmp_path / "p.db"
    ok = cli("probe", "--profile", str(profile), "--base-url", target.url, "--once", "--db", str(db),
             "--reports", str(tmp_path / "r"), timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(rows(db, "SELECT * FROM probe_results")) == 2
    assert (tmp_path / "r" / "status.html").exists()
    releases.deploy(target.state_path, "health-500")
    bad = cli("probe", "--profile", str(profile), "--base-url", target.url, "--once", "--db", str(db),
              "--reports", str(tmp_path / "r"), timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "health DOWN" in bad.stdout and "status 500" in bad.stdout
    # the runner cannot reach the target at all: inconclusive, never a pass, never evidence
    lost = cli("probe", "--profile", str(profile), "--base-url", "http://synthgate-probe-test.invalid", "--once",
               "--db", str(tmp_path / "lost.db"), "--reports", str(tmp_path / "r2"), timeout=60)
    assert lost.returncode == 4, lost.stdout + lost.stderr
    outcomes = {r["outcome"] for r in rows(tmp_path / "lost.db", "SELECT outcome FROM probe_results")}
    assert outcomes == {"unknown"}


def test_usage_errors_are_clear(tmp_path: Path, cli: Any) -> None:
    profile = write_profile(tmp_path / "p.yaml", "{every: 1s}", alerts="[{webhook: {url_env: PROBE_TEST_NOT_SET}}]")
    for args, expected in [
        (["--every", "soon"], "--every"),
        (["--stages", "load"], "--stages"),
        (["--location", "eu west!"], "--location"),
        (["--profile", str(profile)], "PROBE_TEST_NOT_SET is not set (expected the webhook URL); or pass --no-alerts"),
    ]:
        out = cli("probe", *args, "--once", "--db", str(tmp_path / "x.db"), timeout=60)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert expected in out.stderr and "Traceback" not in out.stderr
    tried = cli("probe", "--profile", str(profile), "--no-alerts", "--once", "--db", str(tmp_path / "y.db"),
                "--base-url", "http://synthgate-probe-test.invalid", timeout=60)
    assert tried.returncode == 4, tried.stderr  # runs without the channels; nobody reached: inconclusive
    missing = cli("probe", "status", "--db", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2 and "no probe history" in missing.stderr


def test_fault_then_rollback_opens_one_incident_two_alerts_right_downtime(
        tmp_path: Path, target: EmbeddedTarget, receiver: Receiver, cli: Any) -> None:
    hook_path = f"/slack/{HOOK_TOKEN}"
    profile = write_profile(
        tmp_path / "p.yaml", "{every: 1s, fail_after: 2, recover_after: 1, jitter: 0.05, slo: 99.0}",
        alerts=f"[{{webhook: {{url_env: PROBE_TEST_HOOK, format: slack}}}}, "
               f"{{webhook: {{url: '{receiver.url}/json', format: json}}}}]")
    db = tmp_path / "p.db"
    metrics_port = free_port()
    proc = start_probe(tmp_path, "--profile", str(profile), "--base-url", target.url, "--db", str(db),
                       "--reports", str(tmp_path / "reports"), "--location", "lab-1",
                       "--metrics-port", str(metrics_port), "--metrics-addr", "127.0.0.1",
                       env={"PROBE_TEST_HOOK": receiver.url + hook_path})
    try:
        wait_for("two healthy rounds", lambda: len(health_results(db)) >= 2, proc=proc, tmp=tmp_path)
        releases.deploy(target.state_path, "health-500")
        deployed_at = time.time()
        wait_for("the incident to open", lambda: rows(db, "SELECT * FROM incidents"), proc=proc, tmp=tmp_path)
        import httpx
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'synthgate_probe_up{check="health",location="lab-1",target="probe-test"} 0.0' in scraped
        assert 'synthgate_probe_incidents_open{location="lab-1",target="probe-test"} 1.0' in scraped
        time.sleep(1.5)  # more failed rounds while it is open: no more alerts
        releases.rollback(target.state_path)
        rolled_back_at = time.time()
        wait_for("the incident to resolve",
                 lambda: rows(db, "SELECT * FROM incidents WHERE resolved_at IS NOT NULL"), proc=proc, tmp=tmp_path)
        time.sleep(1.2)  # healthy rounds after recovery: no more alerts either
        wait_for("both alerts on both channels", lambda: len(receiver.received) >= 4, timeout=10)
    finally:
        code = stop(proc)
    assert code == 0, (tmp_path / "probe.err").read_text()

    assert receiver.events(hook_path) == ["down", "recovered"]
    assert receiver.events("/json") == ["down", "recovered"]
    incidents = rows(db, "SELECT * FROM incidents")
    assert len(incidents) == 1
    inc = incidents[0]
    health = health_results(db)
    failed = [r for r in health if r["outcome"] == "down"]
    assert len(failed) >= 3
    assert inc["started_at"] == failed[0]["ts"]  # downtime starts at the first failed round
    assert inc["detected_at"] == failed[1]["ts"]  # and the incident opens on the second
    first_ok_after = next(r for r in health if r["ts"] > failed[-1]["ts"])
    assert inc["resolved_at"] == first_ok_after["ts"]
    assert json.loads(inc["checks_json"]) == ["health"]  # the other check stayed up
    # what the report says matches the fault's real duration within one interval (plus jitter) either side
    report = cli("probe", "report", "--db", str(db), "--json")
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)[0]
    downtime = doc["incidents"][0]["duration_s"]
    assert downtime == pytest.approx(inc["resolved_at"] - inc["started_at"], abs=0.01)
    assert downtime == pytest.approx(rolled_back_at - deployed_at, abs=1.3)
    assert doc["location"] == "lab-1" and doc["slo"] == 99.0
    health_doc = next(c for c in doc["checks"] if c["id"] == "health")
    assert health_doc["windows"]["24h"]["down"] == len(failed) and health_doc["windows"]["24h"]["uptime"] < 99.0
    assert health_doc["windows"]["24h"]["budget_exhausted"] is True
    text = cli("probe", "report", "--db", str(db), "--since", "1h")
    assert "downtime in the last 1 h:" in text.stdout and "#1" in text.stdout
    status = cli("probe", "status", "--db", str(db), "--profile", "probe-test", "--location", "lab-1")
    assert status.returncode == 0 and "no open incident" in status.stdout and "UP" in status.stdout
    page = (tmp_path / "reports" / "status.html").read_text()
    assert "<svg" in page and "All checks operational" in page
    # the webhook token never reaches the console, the database or the page
    stored = "\n".join(str(tuple(r)) for t in ("probe_results", "alerts", "incidents", "probe_targets")
                       for r in rows(db, f"SELECT * FROM {t}"))
    for text_out in ((tmp_path / "probe.out").read_text(), (tmp_path / "probe.err").read_text(), stored, page,
                     report.stdout, status.stdout):
        assert HOOK_TOKEN not in text_out


def test_kill_9_loses_nothing_committed_and_the_streak_continues(tmp_path: Path, cli: Any) -> None:
    profile = write_profile(tmp_path / "p.yaml", "{every: 0.3s, fail_after: 6, jitter: 0.05}", checks=False)
    db = tmp_path / "p.db"
    with EmbeddedTarget(fault="health-500") as broken:
        args = ["--profile", str(profile), "--base-url", broken.url, "--db", str(db), "--reports", str(tmp_path)]
        first = start_probe(tmp_path, *args, tag="first")
        wait_for("three failures", lambda: len(health_results(db)) >= 3, proc=first, tmp=tmp_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        before = health_results(db)
        printed = [int(w[1:]) for line in (tmp_path / "first.out").read_text().splitlines()
                   for w in line.split()[1:2] if w.startswith("#")]
        assert printed and set(printed) <= {r["id"] for r in before}  # everything it reported was committed
        streak = rows(db, "SELECT consecutive_failures FROM check_state WHERE check_id='health'")[0][0]
        assert streak == len(before) < 6  # state and results agree, written together
        assert rows(db, "PRAGMA integrity_check")[0][0] == "ok"

        second = start_probe(tmp_path, *args, tag="second")
        try:
            wait_for("the incident, counting the failures from before the kill",
                     lambda: rows(db, "SELECT * FROM incidents"), proc=second, tmp=tmp_path)
            clash = cli("probe", *args, "--once", timeout=60)  # a second probe of the same target and db
            assert clash.returncode == 2 and "already probing" in clash.stderr
        finally:
            assert stop(second) == 0
    after = health_results(db)
    assert [r["id"] for r in after[:len(before)]] == [r["id"] for r in before]  # nothing lost or rewritten
    inc = rows(db, "SELECT * FROM incidents")[0]
    assert inc["detected_at"] == after[5]["ts"]  # the 6th consecutive failure overall, across the restart
    assert inc["started_at"] == after[0]["ts"]


def test_slow_or_dead_webhooks_do_not_delay_probing(tmp_path: Path) -> None:
    slow = Receiver(delay_s=10.0)
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused, every time
    profile = write_profile(
        tmp_path / "p.yaml", "{every: 0.5s, fail_after: 1, jitter: 0.05}", checks=False,
        alerts=f"[{{webhook: {{url: '{slow.url}/slow', timeout_s: 30}}}}, {{webhook: {{url: '{dead}', retries: 5}}}}]")
    db = tmp_path / "p.db"
    try:
        with EmbeddedTarget(fault="health-500") as broken:
            proc = start_probe(tmp_path, "--profile", str(profile), "--base-url", broken.url, "--db", str(db),
                               "--reports", str(tmp_path), "--alert-grace", "1s")
            try:
                wait_for("the incident", lambda: rows(db, "SELECT * FROM incidents"), proc=proc, tmp=tmp_path)
                time.sleep(4.0)
            finally:
                started_stop = time.monotonic()
                code = stop(proc)
                stop_s = time.monotonic() - started_stop
    finally:
        slow.close()
    assert code == 0, (tmp_path / "probe.err").read_text()
    ts = [r["ts"] for r in health_results(db)]
    gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    assert len(ts) >= 8 and max(gaps) < 2.0, gaps  # the cadence held while one receiver slept 10 s
    assert stop_s < 8.0  # and the stop did not wait for it either
    alerts = rows(db, "SELECT channel, status, attempts, last_error FROM alerts ORDER BY id")
    dead_alert = next(a for a in alerts if a["channel"] == "alerts[1].webhook")
    assert dead_alert["attempts"] >= 1 and "refused" in dead_alert["last_error"]
    assert "attempt 1 failed" in (tmp_path / "probe.err").read_text()
