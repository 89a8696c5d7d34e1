"""A team's own checks beside its profile: they run with the bundled ones, under ids namespaced by file, with
sg_client's transport retries counted, in the gate's stages and in `synthgate probe`; profile tooling (validate's
file:line:column, the schema) on the checkout's own files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from verdicts import read_verdict

from synthgate.profile import ProfileError, load_profile
from synthgate.profile.schema import profile_schema

ROOT = Path(__file__).resolve().parents[2]


def _repo(tmp_path: Path, url: str) -> Path:
    """A team repository: a small profile against the demo target and a tests/ folder."""
    repo = tmp_path / "repo"
    (repo / "tests" / "smoke").mkdir(parents=True)
    (repo / "synthgate.yaml").write_text(
        f"name: team\nbase_url: {url}\nhealth: {{path: /v1/health}}\ntls: {{enabled: false}}\n"
        "defaults: {retries: 2, backoff_s: 0.05}\n")
    return repo


def _checks(reports: Path) -> dict[str, dict[str, Any]]:
    verdict = read_verdict(reports)
    return {c["id"]: c for s in verdict["stages"] for c in s["checks"]}


def test_team_checks_run_beside_the_bundled_ones(demo_target: Any, tmp_path: Path, cli) -> None:
    repo = _repo(tmp_path, demo_target.url)
    # the same file name as a bundled smoke test: both run (importlib import mode), ids never collide
    (repo / "tests" / "smoke" / "test_health.py").write_text(
        "import httpx, pytest\n\n"
        "def test_environment(sg_client):\n"
        "    assert sg_client.get('/v1/health').json()['environment'] == 'production'\n\n"
        "def test_survives_a_refused_connection(sg_client):\n"
        "    with pytest.raises(httpx.ConnectError):\n"
        "        sg_client.get('http://127.0.0.1:9/')\n\n"
        "def test_broken(base_url):\n"
        "    assert base_url.endswith('/nowhere'), 'the team check failed'\n")
    (repo / "conftest.py").write_text('"""the team\'s own root conftest"""\n')
    proc = cli("run", "--stages", "smoke", "--no-rollback", "--reports", str(tmp_path / "r"), cwd=repo)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = _checks(tmp_path / "r")
    assert checks["health"]["status"] == "passed"  # the bundled health check ran from the same child
    assert checks["tests/smoke/test_health.py::test_environment"]["status"] == "passed"
    refused = checks["tests/smoke/test_health.py::test_survives_a_refused_connection"]
    assert refused["status"] == "passed" and refused["attempts"] == 3  # retried with backoff, then raised
    broken = checks["tests/smoke/test_health.py::test_broken"]
    assert broken["status"] == "failed" and "the team check failed" in broken["message"]
    assert "test_broken" in (tmp_path / "r" / "summary.md").read_text()


def test_a_bundled_profile_collects_no_team_checks(demo_target: Any, tmp_path: Path, cli) -> None:
    repo = _repo(tmp_path, demo_target.url)
    (repo / "tests" / "smoke" / "test_x.py").write_text("def test_x():\n    assert False\n")
    proc = cli("run", "--profile", "demo", "--base-url", demo_target.url, "--stages", "smoke", "--no-rollback",
               "--reports", str(tmp_path / "r"), cwd=repo)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not any("test_x" in i for i in _checks(tmp_path / "r"))


def test_probe_runs_the_team_checks(demo_target: Any, tmp_path: Path, cli) -> None:
    repo = _repo(tmp_path, demo_target.url)
    (repo / "tests" / "smoke" / "test_probe.py").write_text(
        "def test_staging(sg_client):\n    assert sg_client.get('/v1/health').json()['environment'] == 'staging'\n")
    proc = cli("probe", "--once", "--db", str(tmp_path / "p.db"), "--no-alerts", "--reports", str(tmp_path / "r"),
               cwd=repo, timeout=200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "tests/smoke/test_probe.py::test_staging DOWN" in out
    assert "health UP" in out


def test_validate_points_at_line_and_column(tmp_path: Path, cli) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nbase_url: http://127.0.0.1:9\nchecks:\n  - id: a\n    request: {path: /}\n"
                    "    expect: {status: 999}\n  - request: {path: /b}\npages:\n  - {id: p, path: /, budjet_ms: 5}\n")
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    lines = [line.strip() for line in proc.stderr.splitlines()[1:]]
    assert lines[0].startswith(f"{path}:6:14: checks[0].expect.status: expected an HTTP status")
    assert lines[1].startswith(f"{path}:7:5: checks[1].id: required field is missing")
    assert lines[2].startswith(f"{path}:9:22: pages[0].budjet_ms: unknown field")
    assert cli("validate", "umbrella").returncode == 0


def test_schema_describes_what_the_loader_accepts() -> None:
    schema = profile_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "targets").glob("*.yaml")):
        validator.validate(yaml.safe_load(path.read_text()))  # shorthands: status: 401, every: 5m, ...
    bad = {"name": "x", "health": {"path": "/h", "expect": {"status": "teapot"}}}
    assert not validator.is_valid(bad)
    try:
        load_profile(str(_write(bad)))
    except ProfileError:
        pass
    else:
        raise AssertionError("the loader accepted what the schema refuses")


def _write(data: dict[str, Any]) -> Path:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115 - closed below
    with handle:
        yaml.safe_dump(data, handle)
    return Path(handle.name)


def test_team_browser_check_runs_in_the_e2e_stage(demo_target: Any, tmp_path: Path, cli) -> None:
    repo = _repo(tmp_path, demo_target.url)  # no journeys: the team's browser check alone makes the stage run
    (repo / "tests" / "e2e").mkdir()
    (repo / "tests" / "e2e" / "test_landing.py").write_text(
        "def test_title(page):\n    page.goto('/')\n    assert 'synthgate' in page.title()\n")
    proc = cli("run", "--stages", "e2e", "--no-rollback", "--reports", str(tmp_path / "r"), cwd=repo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = _checks(tmp_path / "r")
    assert checks["tests/e2e/test_landing.py::test_title[chromium]"]["status"] == "passed"


def test_plain_pytest_in_the_team_repository_uses_its_profile(demo_target: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = _repo(tmp_path, demo_target.url)
    (repo / "tests" / "smoke" / "test_name.py").write_text(
        "def test_profile_name(sg_profile, sg_client):\n    assert sg_profile.name == 'team'\n"
        "    assert sg_client.get('/v1/health').status_code == 200\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/smoke", "-q", "-p", "no:cacheprovider"],
                          cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_a_conftest_provides_the_target_through_the_plugin_hook(demo_target: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = _repo(tmp_path, demo_target.url)
    profile = repo / "synthgate.yaml"
    profile.write_text(profile.read_text().replace(f"base_url: {demo_target.url}\n", ""))  # no URL anywhere
    (repo / "tests" / "smoke" / "test_up.py").write_text(
        "def test_up(base_url, sg_client):\n    assert sg_client.get('/v1/health').status_code == 200\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SYNTHGATE_BASE_URL", "API_URL")}
    command = [sys.executable, "-m", "pytest", "tests/smoke", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0 and "no base URL" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    (repo / "conftest.py").write_text(  # the team's local server (here: the running demo) through the hook
        f"def pytest_synthgate_target(config, profile):\n    return {demo_target.url!r}\n")
    proc = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:]


def test_this_repository_runs_its_smoke_suite_alone_against_the_embedded_demo(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("SYNTHGATE_BASE_URL", "API_URL", "SYNTHGATE_PROFILE")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/smoke", "-q", "-p", "no:cacheprovider", "-k",
                           "health", "--synthgate-reports", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env=env)
    assert proc.returncode == 0 and " passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
