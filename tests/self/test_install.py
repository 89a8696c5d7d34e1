"""synthgate outside its own checkout: the wheel built from this repository, installed into a fresh virtualenv in
an empty folder with nothing of the repository on the Python path, gates the demo, finds its bundled profiles,
sets up a repository (`init`, `init --from`), runs a team's own check under its namespaced id, and validates.

The wheel and the virtualenv are built once per session (tests/self/installed_wheel.py; pip installs the
dependencies from its cache).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from verdicts import read_verdict

REPO = Path(__file__).resolve().parents[2]
STAGES = ["smoke"]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An empty folder outside the repository: the team's repository."""
    folder = tmp_path / "app"
    folder.mkdir()
    return folder


def sg(bindir: Path, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed synthgate, with nothing of this repository on its path or in its environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SYNTHGATE_SUITES", "SYNTHGATE_TARGETS", "SYNTHGATE_PROFILE", "VIRTUAL_ENV")}
    env["SYNTHGATE_HOME"] = str(cwd / ".home")
    env["SYNTHGATE_SUITES"] = ""  # set but empty, as CI templates export it: the bundled suites
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bindir / "synthgate"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo target served by the installed package (`synthgate demo serve`)."""
    port = _free_port()
    cwd = tmp_path_factory.mktemp("served")
    proc = subprocess.Popen([str(installed / "synthgate"), "demo", "serve", "--port", str(port),
                             "--state", str(cwd / "state.json")], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _checks(reports: Path) -> dict[str, str]:
    verdict = read_verdict(reports)
    return {c["id"]: c["status"] for s in verdict["stages"] for c in s["checks"]}


def test_version_is_the_packaged_one(installed: Path, app: Path) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    proc = sg(installed, "--version", cwd=app)
    assert proc.returncode == 0 and proc.stdout.strip() == f"synthgate {version}", proc.stdout + proc.stderr


def test_installed_wheel_gates_the_demo(installed: Path, app: Path) -> None:
    proc = sg(installed, "run", "--stages", "smoke", "--reports", "r", cwd=app)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = _checks(app / "r")
    assert checks.get("health") == "passed" and len(checks) > 10


def test_bundled_profile_is_inside_the_package(installed: Path, app: Path) -> None:
    proc = sg(installed, "validate", "coldcopy", cwd=app)
    assert proc.returncode == 0, proc.stderr
    assert "site-packages" in proc.stdout and "coldcopy.yaml" in proc.stdout


def test_init_writes_the_layout(installed: Path, app: Path) -> None:
    proc = sg(installed, "init", cwd=app)
    assert proc.returncode == 0, proc.stderr
    for rel in ("synthgate.yaml", "conftest.py", "tests/smoke/test_example.py", "tests/e2e/test_example.py",
                "tests/load/test_example.py", ".github/workflows/synthgate.yml", ".synthgate/profile.schema.json"):
        assert (app / rel).is_file(), rel
    assert (app / "synthgate.yaml").read_text().startswith("# yaml-language-server: $schema=.synthgate/")
    assert "reports/" in (app / ".gitignore").read_text().splitlines()
    assert sg(installed, "validate", cwd=app).returncode == 0  # ./synthgate.yaml is the default profile
    again = sg(installed, "init", cwd=app)  # never over the team's files
    assert again.returncode == 0 and "kept" in again.stdout


def test_init_from_a_live_target_then_a_team_check(installed: Path, served: str, app: Path) -> None:
    proc = sg(installed, "init", ".", "--from", served, cwd=app, timeout=300)  # it runs every drafted stage
    assert proc.returncode == 0, proc.stdout + proc.stderr
    profile = (app / "synthgate.yaml").read_text()
    assert "path: /v1/health" in profile and "pages:" in profile and "routes:" in profile
    base = ["run", "--base-url", served, "--stages", "smoke", "--no-rollback"]
    first = sg(installed, *base, "--reports", "r1", cwd=app)
    assert first.returncode == 0, first.stdout[-3000:]
    assert _checks(app / "r1")["tests/smoke/test_example.py::test_landing_page_answers"] == "passed"

    check = app / "tests" / "smoke" / "test_billing.py"
    check.write_text("def test_invoice_page(sg_client):\n"
                     "    assert sg_client.get('/v1/health').json()['environment'] == 'staging'\n")
    failing = sg(installed, *base, "--reports", "r2", cwd=app)
    assert failing.returncode == 1, failing.stdout[-3000:]
    assert _checks(app / "r2")["tests/smoke/test_billing.py::test_invoice_page"] == "failed"
    summary = (app / "r2" / "summary.md").read_text()
    junit = (app / "r2" / "junit.xml").read_text()
    assert "test_invoice_page" in summary and "test_invoice_page" in junit
    assert "curl" in json.dumps(read_verdict(app / "r2"))

    check.write_text(check.read_text().replace("'staging'", "'production'"))
    fixed = sg(installed, *base, "--reports", "r3", cwd=app)
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert _checks(app / "r3")["tests/smoke/test_billing.py::test_invoice_page"] == "passed"


def test_validate_names_the_line_of_a_typo(installed: Path, app: Path) -> None:
    (app / "typo.yaml").write_text("name: x\nbase_url: http://127.0.0.1:9\nhealth:\n  path: /h\n  expct: {}\n")
    proc = sg(installed, "validate", "typo.yaml", cwd=app)
    assert proc.returncode == 2
    assert "typo.yaml:5:3: health.expct: unknown field" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_accepts_every_bundled_profile(installed: Path, app: Path) -> None:
    schema = sg(installed, "schema", cwd=app)
    assert schema.returncode == 0
    (app / "schema.json").write_text(schema.stdout)
    script = (
        "import json, sys, yaml, jsonschema, importlib.resources as r\n"
        "from pathlib import Path\n"
        "s = json.load(open('schema.json')); jsonschema.Draft202012Validator.check_schema(s)\n"
        "found = sorted(Path(str(r.files('synthgate'))).rglob('targets/*.yaml'))\n"
        "assert {p.stem for p in found} >= {'demo', 'coldcopy', 'sixdegrees', 'manuscript', 'umbrella'}, found\n"
        "for p in found: jsonschema.validate(yaml.safe_load(p.read_text()), s)\n"
        "bad = {'name': 'x', 'heatlh': {}}\n"
        "assert not jsonschema.Draft202012Validator(s).is_valid(bad)\n"
        "print(len(found))\n")
    proc = subprocess.run([str(installed / "python"), "-c", script], cwd=app, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
