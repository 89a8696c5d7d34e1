"""State that outlives the runner: several gates and probe locations sharing one real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import fresh_database
from test_probe import Receiver, write_profile
from verdicts import read_verdict

from synthgate.demo import releases
from synthgate.demo.server import EmbeddedTarget
from synthgate.store import Store


@pytest.fixture()
def shared_db(postgres_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's PostgreSQL cluster."""
    return fresh_database(postgres_url, f"s_{abs(hash(request.node.nodeid)) % 10**12}")


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_two_gates_on_two_machines_roll_back_once(tmp_path: Path, shared_db: str) -> None:
    """Separate homes and lock folders (two runners), one PostgreSQL, one broken deploy: exactly one rollback."""
    count = tmp_path / "rollbacks.txt"
    with EmbeddedTarget() as target:
        profile = tmp_path / "p.yaml"
        profile.write_text(f"""
name: shared
health: {{path: /v1/health, expect: {{status: 200, json: {{status: ok}}}}}}
defaults: {{timeout_s: 5, retries: 1, backoff_s: 0.2}}
rollback:
  command: [sh, -c, 'echo run >> "{count}" && sleep 1 && synthgate demo rollback']
  timeout_s: 60
  on: [fail]
""")
        releases.deploy(target.state_path, "health-500")
        gates = []
        for n in range(2):
            env = {**os.environ, "HOME": str(tmp_path / f"h{n}"), "SYNTHGATE_HOME": str(tmp_path / f"h{n}"),
                   "SYNTHGATE_LOCK_DIR": str(tmp_path / f"l{n}"), "SYNTHGATE_DEMO_STATE": str(target.state_path)}
            gates.append(subprocess.Popen(
                [sys.executable, "-m", "synthgate", "run", "--profile", str(profile), "--base-url", target.url,
                 "--db", shared_db, "--reports", str(tmp_path / f"r{n}")], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL))
        outputs = [g.communicate(timeout=240)[0] for g in gates]
        assert releases.read_state(target.state_path)["current"]["fault"] is None
    assert [g.returncode for g in gates] == [1, 1], outputs
    assert count.read_text().splitlines() == ["run"], outputs  # the action ran once across both "machines"
    verdicts = [read_verdict(tmp_path / f"r{n}") for n in range(2)]
    assert all(v["rollback"]["verified"] for v in verdicts)
    assert sum("only verifying" in v["rollback"]["message"] for v in verdicts) == 1
    with Store(shared_db) as store:
        assert [r["exit_code"] for r in store.rollbacks()] == [0]  # the record every machine reads
        assert {r["verdict"] for r in store.runs("shared")} == {"fail"}  # both runs in the one history


def _round(tmp_path: Path, tag: str, db: str, profile: Path, where: dict[str, str]) -> list[int]:
    """One `probe --once` per location, all at the same time; their exit codes."""
    procs = {}
    for loc, url in where.items():
        procs[loc] = subprocess.Popen(
            [sys.executable, "-m", "synthgate", "probe", "--once", "--profile", str(profile), "--base-url", url,
             "--location", loc, "--db", db, "--reports", str(tmp_path / f"{tag}-{loc}")],
            stdout=open(tmp_path / f"{tag}-{loc}.out", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
            stdin=subprocess.DEVNULL)
    codes = [p.wait(timeout=120) for p in procs.values()]
    return codes


def test_three_locations_with_quorum_two_open_one_incident_and_send_one_alert(
        tmp_path: Path, shared_db: str, receiver: Receiver) -> None:
    profile = write_profile(tmp_path / "p.yaml", "{every: 60s, fail_after: 1, recover_after: 1, quorum: 2}",
                            f"[{{webhook: {{url: '{receiver.url}/hook', format: json}}}}]", checks=False)
    with EmbeddedTarget() as healthy, EmbeddedTarget() as broken:
        releases.deploy(broken.state_path, "health-500")
        # only eu sees the outage (its network path, say): no quorum, no incident, no alert
        codes = _round(tmp_path, "r1", shared_db, profile, {"eu": broken.url, "us": healthy.url, "ap": healthy.url})
        assert sorted(codes) == [0, 0, 1]
        with Store(shared_db) as store:
            assert store.incidents("probe-test") == []
            assert store.all_check_states("probe-test")["eu"]["health"].down
        # eu and us see it: one incident, whichever process commits first; one "down" alert
        _round(tmp_path, "r2", shared_db, profile, {"eu": broken.url, "us": broken.url, "ap": healthy.url})
        with Store(shared_db) as store:
            incidents = store.incidents("probe-test")
            assert len(incidents) == 1 and incidents[0].resolved_at is None
            assert set(incidents[0].locations) == {"eu", "us"}
            assert [a.event for a in store.alerts("probe-test")] == ["down"]
        assert receiver.events("/hook") == ["down"]
        status = subprocess.run([sys.executable, "-m", "synthgate", "probe", "status", "--db", shared_db, "--json"],
                                capture_output=True, text=True, timeout=60, check=False)
        shown = json.loads(status.stdout)
        assert sorted(r["location"] for r in shown) == ["ap", "eu", "us"]  # every location, one view
        assert {r["open_incident"]["id"] for r in shown} == {incidents[0].id}
        page = (tmp_path / "r2-ap" / "status.html").read_text()
        assert "<th>location</th>" in page and ">eu<" in page and ">us<" in page
        # everyone sees it healthy again: the incident resolves once, one "recovered" alert
        _round(tmp_path, "r3", shared_db, profile, {"eu": healthy.url, "us": healthy.url, "ap": healthy.url})
        with Store(shared_db) as store:
            assert store.open_incident("probe-test") is None
            assert len(store.incidents("probe-test")) == 1
    assert receiver.events("/hook") == ["down", "recovered"]
