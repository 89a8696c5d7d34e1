"""The templates in examples/: each passes its linter or schema check, and its synthgate commands run for real.

Commands are found by what they are: every line of a workflow script, and every container of a Kubernetes
manifest, that invokes `synthgate run|probe|load`. They run exactly as written; only the environment differs
(profile `demo`, the demo target's URL, a load test of a few seconds), the way a user's CI sets its variables.
They run the `synthgate` of the wheel built from this repository, installed into a fresh virtualenv (the
`installed` fixture), in empty folders: what a pipeline that copied the template would run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from verdicts import read_verdict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
VENV_BIN = Path(sys.executable).parent
GITHUB = sorted((EXAMPLES / "github").glob("*.yml"))
GITLAB = sorted((EXAMPLES / "gitlab").glob("*.yml"))
KUBERNETES = sorted((EXAMPLES / "kubernetes").glob("*.yaml"))
COMMAND = re.compile(r"\bsynthgate\s+(run|probe|load)\b")
ENV_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
KUBE_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
ARGO_REF = re.compile(r"\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}")


def tool(name: str) -> str:
    """A linter installed by the dev extras (make setup); missing is a failure, never a skip."""
    path = VENV_BIN / name
    assert path.is_file(), f"{name} is not installed in {VENV_BIN}: run `make setup` (pyproject dev extras)"
    return str(path)


def run(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    """A linter run with the venv's tools first on PATH (actionlint finds shellcheck there)."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **kw.pop("env", {})}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL, check=False, **kw)


def docs(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_every_template_is_covered() -> None:
    names = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()}
    checked = {p.relative_to(EXAMPLES).as_posix() for p in GITHUB + GITLAB + KUBERNETES} | {"Dockerfile", "README.md"}
    assert names == checked, f"templates no test checks: {sorted(names - checked)}"
    assert len(GITHUB) == 5 and len(GITLAB) == 5 and len(KUBERNETES) == 5


# --- linters and schemas ---------------------------------------------------------------------------------------

def test_github_workflows_pass_actionlint(tmp_path: Path) -> None:
    assert (VENV_BIN / "shellcheck").is_file(), "shellcheck missing: actionlint would skip the run: scripts"
    proc = run(tool("actionlint"), "-no-color", *map(str, GITHUB))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the linter really lints: a broken copy (unknown key, unquoted variable) is refused, by both checks
    broken = tmp_path / "broken.yml"
    text = GITHUB[0].read_text(encoding="utf-8").replace("runs-on:", "runs_on:", 1)
    broken.write_text(text.replace('"$SYNTHGATE_PACKAGE"', "$SYNTHGATE_PACKAGE"), encoding="utf-8")
    proc = run(tool("actionlint"), "-no-color", str(broken))
    assert proc.returncode == 1 and "runs_on" in proc.stdout and "SC2086" in proc.stdout, proc.stdout


def test_workflows_match_the_github_and_gitlab_schemas(tmp_path: Path) -> None:
    for schema, files in (("vendor.github-workflows", GITHUB), ("vendor.gitlab-ci", GITLAB)):
        proc = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "broken.gitlab-ci.yml"
    broken.write_text(GITLAB[0].read_text(encoding="utf-8").replace("when: on_failure", "when: sometimes"))
    proc = run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(broken))
    assert proc.returncode == 1 and "sometimes" in proc.stdout


def test_kubernetes_manifests_validate(tmp_path: Path) -> None:
    proc = run(tool("kubernetes-validate"), "--strict", *map(str, KUBERNETES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = re.findall(r"passed for resource (\S+)", proc.stdout)
    core = [f"{d['kind'].lower()}/{d['metadata']['name']}" for p in KUBERNETES for d in docs(p)
            if d["apiVersion"] in ("v1", "apps/v1", "batch/v1")]
    assert sorted(passed) == sorted(core)
    # kubernetes-validate has no schema for custom resources: it says so, and they are checked below
    unknown = sorted(re.findall(r"Couldn't find schema for kind (\w+)", proc.stdout + proc.stderr))
    assert unknown == ["AnalysisTemplate", "Canary", "LocustTest"]
    # Argo's Job provider takes a batch/v1 JobSpec: validate it as a real Job
    template = next(d for d in docs(EXAMPLES / "kubernetes" / "argo-rollouts-analysis.yaml")
                    if d["kind"] == "AnalysisTemplate")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "synthgate-analysis"},
           "spec": template["spec"]["metrics"][0]["provider"]["job"]["spec"]}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job), encoding="utf-8")
    proc = run(tool("kubernetes-validate"), "--strict", str(tmp_path / "job.yaml"))
    assert proc.returncode == 0 and "passed for resource job/" in proc.stdout, proc.stdout + proc.stderr


def test_argo_analysis_template_uses_argo_fields() -> None:
    """The fields Argo Rollouts documents for an AnalysisTemplate with a Job metric."""
    template = next(d for d in docs(EXAMPLES / "kubernetes" / "argo-rollouts-analysis.yaml")
                    if d["kind"] == "AnalysisTemplate")
    assert template["apiVersion"] == "argoproj.io/v1alpha1"
    spec = template["spec"]
    assert set(spec) <= {"args", "metrics", "dryRun", "measurementRetention"}
    declared = {a["name"] for a in spec["args"]}
    assert all(set(a) <= {"name", "value", "valueFrom"} for a in spec["args"])
    metric = spec["metrics"][0]
    assert set(metric) <= {"name", "provider", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit",
                           "count", "interval", "initialDelay", "successCondition", "failureCondition"}
    assert set(metric["provider"]) == {"job"} and set(metric["provider"]["job"]) <= {"metadata", "spec"}
    used = set(ARGO_REF.findall(json.dumps(metric)))
    assert used and used <= declared  # every {{args.X}} is declared
    job = metric["provider"]["job"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # required by podFailurePolicy and by Argo
    container = job["template"]["spec"]["containers"][0]
    assert job["podFailurePolicy"]["rules"][0]["onExitCodes"]["containerName"] == container["name"]
    assert "--no-rollback" in container["args"]  # Argo rolls back itself


def test_flagger_canary_uses_flagger_fields() -> None:
    """The fields and values Flagger's Canary accepts for the analysis and its webhooks."""
    canary = next(d for d in docs(EXAMPLES / "kubernetes" / "flagger-webhook.yaml") if d["kind"] == "Canary")
    assert canary["apiVersion"] == "flagger.app/v1beta1"
    spec = canary["spec"]
    assert {"targetRef", "analysis"} <= set(spec)
    assert spec["targetRef"]["kind"] in ("Deployment", "DaemonSet", "Service")
    assert isinstance(spec["service"]["port"], int)
    analysis = spec["analysis"]
    assert re.fullmatch(r"[0-9]+(m|s)", analysis["interval"]) and isinstance(analysis["threshold"], int)
    assert any(k in analysis for k in ("iterations", "stepWeight", "stepWeights"))
    types = {"", "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout", "event",
             "rollback", "confirm-traffic-increase"}
    service = next(d for d in docs(EXAMPLES / "kubernetes" / "flagger-webhook.yaml") if d["kind"] == "Service")
    for hook in analysis["webhooks"]:
        assert set(hook) <= {"name", "type", "url", "timeout", "metadata", "muteAlert", "retries", "disableTLS"}
        assert hook["type"] in types and re.fullmatch(r"[0-9]+(m|s)", hook["timeout"])
        assert all(isinstance(v, str) for v in hook["metadata"].values())  # Flagger's metadata is string-valued
        assert hook["url"].startswith(f"http://{service['metadata']['name']}.")


def test_dockerfile_passes_hadolint_and_builds_from_this_tree() -> None:
    dockerfile = EXAMPLES / "Dockerfile"
    proc = run(tool("hadolint"), "--no-color", str(dockerfile))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(r"^FROM \S*(bookworm|trixie|debian)\S*", text, re.M), "expected a Debian base image"
    assert re.search(r"apt-get install[^\n]*\bchromium(-headless-shell)?(\s|$)", text)
    assert re.search(r"pip install[^\n]* \.(\s|$)", text)
    assert re.search(r'^ENTRYPOINT \[.*"synthgate"\]', text, re.M)
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"
    # the installed package carries its suites and profiles: nothing points back at a source tree
    assert "SYNTHGATE_SUITES" not in text and "SYNTHGATE_TARGETS" not in text
    assert not re.search(r"pip install[^\n]*(-e |--editable|git\+)", text)


def test_templates_install_synthgate_as_a_package() -> None:
    """A copied template installs the package (an index or a wheel), never an editable checkout or git+ URL."""
    installs = 0
    for path in GITHUB + GITLAB + [EXAMPLES / "Dockerfile"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"git\+|pip install[^\n]*(-e |--editable)", text), path.name
        for line in re.findall(r"pip install[^\n]*", text):
            if "synthgate" in line.lower() or "SYNTHGATE_PACKAGE" in line:
                installs += 1
        package = re.search(r"SYNTHGATE_PACKAGE: (\S+)", text)
        if package:
            assert re.fullmatch(r"synthgate(==[0-9][^\s]*)?", package.group(1)), package.group(1)
    assert installs >= 3


def test_configmap_profile_is_a_valid_profile(tmp_path: Path) -> None:
    from synthgate.profile import load_profile

    config = next(d for d in docs(EXAMPLES / "kubernetes" / "probe-cronjob.yaml") if d["kind"] == "ConfigMap")
    path = tmp_path / "profile.yaml"
    path.write_text(config["data"]["profile.yaml"], encoding="utf-8")
    profile, _ = load_profile(str(path))
    assert profile.health is not None and profile.probe.fail_after == 2 and profile.alerts


def test_probe_cronjob_scrape_annotations_match_the_metrics_port() -> None:
    cronjob = next(d for d in docs(EXAMPLES / "kubernetes" / "probe-cronjob.yaml") if d["kind"] == "CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    notes = pod["metadata"]["annotations"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
    assert notes["prometheus.io/port"] == env["METRICS_PORT"] == str(container["ports"][0]["containerPort"])
    assert "$(METRICS_PORT)" in container["args"] and "--once" in container["args"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def flagger_script() -> str:
    config = next(d for d in docs(EXAMPLES / "kubernetes" / "flagger-webhook.yaml")
                  if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "synthgate-flagger-webhook")
    return str(config["data"]["flagger_webhook.py"])


def test_flagger_webhook_script_is_clean_and_wired(tmp_path: Path) -> None:
    script = tmp_path / "flagger_webhook.py"
    script.write_text(flagger_script(), encoding="utf-8")
    proc = run(tool("ruff"), "check", "--no-cache", "--isolated", "--line-length", "120",
               "--select", "E,F,W,B,UP,SIM,I", str(script))
    assert proc.returncode == 0, proc.stdout
    deployment = next(d for d in docs(EXAMPLES / "kubernetes" / "flagger-webhook.yaml") if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook")["mountPath"]
    assert container["command"][-1] == f"{mount}/flagger_webhook.py"
    read = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', flagger_script()))
    assert {e["name"] for e in container["env"]} <= read  # every variable the Deployment sets is used


# --- the commands, run ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def github_commands(path: Path) -> list[dict[str, Any]]:
    """Each synthgate line of each step: the line, its step id, and the env names the workflow declares."""
    flow = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for job_name, job in flow["jobs"].items():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                if COMMAND.search(line):
                    declared = {**flow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                    found.append({"file": path.name, "where": f"{job_name}/{step.get('id') or step.get('name')}",
                                  "line": line.strip(), "declared": set(declared), "flavor": "github",
                                  "step": step.get("id")})
    return found


def gitlab_commands(path: Path) -> list[dict[str, Any]]:
    """Each synthgate line of each job's script."""
    pipeline = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for name, job in pipeline.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        for entry in job["script"]:
            for line in str(entry).splitlines():
                if COMMAND.search(line):
                    found.append({"file": path.name, "where": name, "line": line.strip(), "flavor": "gitlab",
                                  "declared": set(pipeline.get("variables", {})) | set(job.get("variables", {}))})
    return found


def kubernetes_commands(path: Path) -> list[dict[str, Any]]:
    """Each container whose args run synthgate (the image's entrypoint), with its env and Argo's args."""
    found = []
    for doc in docs(path):
        argo = ({a["name"]: a.get("value") for a in doc["spec"].get("args", [])}
                if doc["kind"] == "AnalysisTemplate" else {})
        for container in _containers(doc):
            args = container.get("args") or []
            if args and args[0] in ("run", "probe", "load"):
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                found.append({"file": path.name, "where": f"{doc['kind']}/{container['name']}", "args": args,
                              "env": env, "argo": argo, "flavor": "none"})
    return found


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "containers" and isinstance(value, list):
                yield from value
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


ALL_COMMANDS = ([c for p in GITHUB for c in github_commands(p)] + [c for p in GITLAB for c in gitlab_commands(p)]
                + [c for p in KUBERNETES for c in kubernetes_commands(p)])
# what a CI provides outside the template itself (GitLab: the deploy job's dotenv, CI/CD variables)
PROVIDED_BY_CI = {"BASE_URL", "PRODUCTION_URL", "STAGING_URL", "PREVIEW_URL"}


def test_commands_were_found_in_every_kind_of_template() -> None:
    files = {c["file"] for c in ALL_COMMANDS}
    assert files == {p.name for p in GITHUB + GITLAB} | {"probe-cronjob.yaml", "argo-rollouts-analysis.yaml",
                                                         "load-distributed.yaml"}
    kinds = {COMMAND.search(c.get("line") or "synthgate " + c["args"][0]).group(1) for c in ALL_COMMANDS}
    assert kinds == {"run", "probe", "load"}
    for c in ALL_COMMANDS:
        if c["flavor"] == "github":  # GitHub expressions stay out of scripts (script injection): env only
            assert "${{" not in c["line"], c
            assert set(ENV_REF.findall(c["line"])) <= c["declared"], c
        if c["flavor"] == "gitlab":
            assert set(ENV_REF.findall(c["line"])) <= c["declared"] | PROVIDED_BY_CI, c


class Runner:
    """Runs template commands with the environment a CI would give them, pointed at a demo target."""

    def __init__(self, tmp: Path, url: str, bindir: Path) -> None:
        self.tmp, self.url, self.count, self.bindir = tmp, url, 0, bindir
        self.values = {
            "SYNTHGATE_PROFILE": "demo", "SYNTHGATE_STAGES": "smoke", "BASE_URL": url, "PRODUCTION_URL": url,
            "STAGING_URL": url, "PREVIEW_URL": url, "LOAD_DURATION": "3", "LOAD_USERS": "5", "LOAD_WORKERS": "1",
            "PROBE_DB": str(tmp / "probe.db"), "PROBE_LOCATION": "selftest", "METRICS_PORT": str(free_port()),
            "SYNTHGATE_REPORTS": "reports",
            # the GitLab gate's baseline: no shared database, and no previous artifact yet (the demo answers 404)
            "SYNTHGATE_DB": "", "SYNTHGATE_BASELINE": f"{url}/no-previous-run/artifacts.zip",
        }
        self.argo = {"base-url": url, "stages": "smoke"}  # what a Rollout passes; smoke keeps the run short

    def argv(self, command: dict[str, Any]) -> list[str]:
        """The command's argument list after the shell's or Kubernetes' and Argo's substitutions."""
        if "line" in command:
            unknown = set(ENV_REF.findall(command["line"])) - set(self.values)
            assert not unknown, f"{command['file']}: the test does not know what to set {unknown} to"
            return shlex.split(_expand(command["line"], self.values))
        out = []
        for word in command["args"]:
            word = KUBE_REF.sub(lambda m: self.values.get(m.group(1)) or command["env"][m.group(1)], word)
            word = ARGO_REF.sub(lambda m: self.argo.get(m.group(1)) or command["argo"][m.group(1)], word)
            out.append(word)
        return ["synthgate", *out]

    def execute(self, command: dict[str, Any], flavor: str, extra: dict[str, str] | None = None
                ) -> dict[str, Any]:
        """Run it in a fresh working directory; returns the process, its dir and the CI files it wrote."""
        self.count += 1
        cwd = self.tmp / f"run{self.count}"
        cwd.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "GITLAB_", "CI_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(self.values)
        env.update(PATH=f"{self.bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                   SYNTHGATE_LOCK_DIR=str(self.tmp / "locks"), SYNTHGATE_HOME=str(self.tmp / "home"))
        if flavor == "github":
            env.update(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(cwd / "github_output"),
                       GITHUB_STEP_SUMMARY=str(cwd / "step_summary"))
        elif flavor == "gitlab":
            env.update(GITLAB_CI="true")
        env.update(extra or {})
        if "line" in command:  # a CI script line runs in bash, as the runner would run it
            args = ["bash", "-euo", "pipefail", "-c", command["line"]]
        else:  # a container's args follow the image's entrypoint, synthgate
            args = [str(self.bindir / "synthgate"), *self.argv(command)[1:]]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=240, env=env, cwd=str(cwd),
                              stdin=subprocess.DEVNULL, check=False)
        return {"proc": proc, "cwd": cwd, "argv": self.argv(command)}


def _expand(line: str, values: dict[str, str]) -> str:
    return ENV_REF.sub(lambda m: values[m.group(1)], line)


def _reports(result: dict[str, Any]) -> Path:
    argv = result["argv"]
    return result["cwd"] / (argv[argv.index("--reports") + 1] if "--reports" in argv else "reports")


def _outcome(result: dict[str, Any]) -> str:
    proc = result["proc"]
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def _runnable_commands() -> list[dict[str, Any]]:
    """The commands the run test executes: the same command line in two templates runs once."""
    placeholder = Runner(Path("/nonexistent"), "http://target.invalid", Path("/nonexistent"))
    placeholder.values["METRICS_PORT"] = "9"  # a fixed value: the key must not depend on a free port
    seen: dict[tuple[str, ...], dict[str, Any]] = {}
    for command in ALL_COMMANDS:
        if command["file"] == "load-distributed.yaml":
            continue  # a master and its workers run together: test_load_cluster runs these, on loopback hosts
        seen.setdefault(tuple(placeholder.argv(command)), command)
    return list(seen.values())


RUNNABLE = _runnable_commands()


def _outputs_read(command: dict[str, Any]) -> set[str]:
    """The `steps.<id>.outputs.<name>` a GitHub workflow reads from this command's step."""
    if command["flavor"] != "github":
        return set()
    text = (EXAMPLES / "github" / command["file"]).read_text(encoding="utf-8")
    return set(re.findall(rf"steps\.{command.get('step')}\.outputs\.(\w+)", text))


def test_the_run_test_covers_every_command_kind_and_step_outputs() -> None:
    assert len(RUNNABLE) >= 5
    assert {c.get("line", "synthgate " + " ".join(c.get("args", [])))
            .split("synthgate ", 1)[1].split()[0] for c in RUNNABLE} == {"run", "probe", "load"}
    assert any(_outputs_read(c) for c in RUNNABLE)  # some step's outputs are read, so they get checked


@pytest.mark.parametrize("command", RUNNABLE, ids=[f"{c['file']}:{c['where']}" for c in RUNNABLE])
def test_template_command_runs_against_the_demo_target(command: dict[str, Any], demo_target: Any, tmp_path: Path,
                                                       installed: Path) -> None:
    runner = Runner(tmp_path, demo_target.url, installed)
    argv = runner.argv(command)
    result = runner.execute(command, command["flavor"])
    where = f"{command['file']} ({command['where']}): {' '.join(argv)}"
    assert result["proc"].returncode == 0, f"{where}\n{_outcome(result)}"
    if argv[1] in ("run", "load"):
        verdict = read_verdict(_reports(result))
        assert verdict["verdict"] == "pass", where
        assert (_reports(result) / "report.html").is_file()
    if argv[1] == "probe":
        assert Path(runner.values["PROBE_DB"]).is_file(), where
    wanted = _outputs_read(command)
    if wanted:  # every steps.<id>.outputs.<name> that the workflow reads, the step wrote
        written = dict(line.split("=", 1) for line in
                       (result["cwd"] / "github_output").read_text(encoding="utf-8").splitlines() if "=" in line)
        assert not wanted - set(written), f"{where}: the workflow reads outputs {sorted(wanted - set(written))} " \
                                          "that the step never wrote"
        assert written.get("verdict") == "pass", where


@contextlib.contextmanager
def broken_target(fault: str) -> Iterator[Any]:
    from synthgate.demo.server import EmbeddedTarget

    with EmbeddedTarget(fault=fault) as target:
        yield target


def test_gate_templates_roll_a_broken_deploy_back(tmp_path: Path, installed: Path) -> None:
    """The gate line both CI templates share, against a broken deploy: it fails, rolls back, tells later steps."""
    github_gate = next(c for c in ALL_COMMANDS if c["file"] == "gate.yml" and c.get("step") == "gate")
    gitlab_gate = next(c for c in ALL_COMMANDS if c["file"] == "gate.gitlab-ci.yml" and c["where"] == "synthgate-gate")
    assert github_gate["line"] == gitlab_gate["line"]
    with broken_target("health-500") as target:
        runner = Runner(tmp_path, target.url, installed)
        result = runner.execute(gitlab_gate, "gitlab", {"SYNTHGATE_DEMO_STATE": str(target.state_path)})
    assert result["proc"].returncode == 1, _outcome(result)
    assert "section_start:" in result["proc"].stdout and "synthgate_verdict" in result["proc"].stdout
    dotenv = dict(line.split("=", 1) for line in (_reports(result) / "synthgate.env").read_text().splitlines())
    assert dotenv["SYNTHGATE_VERDICT"] == "fail" and dotenv["SYNTHGATE_ROLLBACK_TRIGGERED"] == "true"
    assert dotenv["SYNTHGATE_ROLLBACK_VERIFIED"] == "true"
    # the GitLab rollback job acts only when synthgate did not roll back itself: here it must not
    rollback_job = yaml.safe_load((EXAMPLES / "gitlab" / "gate.gitlab-ci.yml").read_text())["rollback"]["script"][0]
    decision = run("bash", "-c", rollback_job.replace("./deploy/rollback.sh", "echo ROLLING-BACK"),
                   env={**dotenv, "PATH": "/usr/bin:/bin"})
    assert decision.returncode == 0 and "ROLLING-BACK" not in decision.stdout
    decision = run("bash", "-c", rollback_job.replace("./deploy/rollback.sh", "echo ROLLING-BACK; exit 0"),
                   env={**dotenv, "SYNTHGATE_ROLLBACK_TRIGGERED": "false", "PATH": "/usr/bin:/bin"})
    assert "ROLLING-BACK" in decision.stdout


def test_flagger_webhook_gates_a_canary(tmp_path: Path, demo_target: Any) -> None:
    """Flagger's payload to the webhook: 200 for a healthy canary, 412 for a broken one, 4xx for bad requests."""
    script = tmp_path / "flagger_webhook.py"
    script.write_text(flagger_script(), encoding="utf-8")
    canary = next(d for d in docs(EXAMPLES / "kubernetes" / "flagger-webhook.yaml") if d["kind"] == "Canary")
    hook = next(h for h in canary["spec"]["analysis"]["webhooks"] if h["type"] == "pre-rollout")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_"))}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOST="127.0.0.1", PORT=str(port),
               SYNTHGATE_PROFILE="demo", SYNTHGATE_REPORTS_ROOT=str(tmp_path / "reports"),
               SYNTHGATE_ALLOWED_HOSTS="127.0.0.1", SYNTHGATE_LOCK_DIR=str(tmp_path / "locks"),
               SYNTHGATE_HOME=str(tmp_path / "home"))
    server = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=200) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                time.sleep(0.1)

            def call(base_url: str, **overrides: str) -> httpx.Response:
                meta = {**hook["metadata"], "base_url": base_url, "stages": "smoke", **overrides}
                payload = {"name": canary["metadata"]["name"], "namespace": canary["metadata"]["namespace"],
                           "phase": "Progressing", "checksum": "abc", "metadata": meta}
                return client.post(url + "/", json=payload)

            healthy = call(demo_target.url)
            assert healthy.status_code == 200, healthy.text
            assert healthy.json()["verdict"] == "pass"
            with broken_target("health-500") as broken:
                failing = call(broken.url)
            assert failing.status_code == 412, failing.text
            assert failing.json()["verdict"] == "fail" and "health" in failing.json()["reason"]
            assert call("http://evil.example/").status_code == 403
            assert call("file:///etc/passwd").status_code == 400
            assert call(demo_target.url, stages="smoke;rm -rf /").status_code == 400
            assert client.post(url + "/", content=b"not json").status_code == 400
    finally:
        server.terminate()
        server.wait(timeout=10)
