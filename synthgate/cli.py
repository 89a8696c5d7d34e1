"""The command line: run, load, probe, report, demo. Parses, calls, maps outcomes to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from synthgate.console import console, err, say, usage_error
from synthgate.profile import ProfileError
from synthgate.project import default_profile
from synthgate.redact import redactor
from synthgate.results import EXIT_ERROR, Verdict
from synthgate.stage_options import StageOptions
from synthgate.stages import STAGE_ORDER

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="synthgate: decide whether a fresh deploy may stay up, and roll it back when not.")
demo_app = typer.Typer(no_args_is_help=True, help="The embedded demo target: serve it, break it, roll it back.")
app.add_typer(demo_app, name="demo")


ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="profile file or bundled name")]
DefaultProfileOpt = Annotated[str | None, typer.Option(
    "--profile", "-p", help="profile file or bundled name (default: ./synthgate.yaml when present, else demo)")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="overrides SYNTHGATE_BASE_URL, API_URL, profile")]
ReportsOpt = Annotated[Path, typer.Option("--reports", help="reports directory")]


def parse_stages(text: str) -> list[str]:
    """Stage names from a comma-separated list."""
    stages = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGE_ORDER]
    if unknown or not stages:
        raise ProfileError(f"--stages: unknown stage(s) {', '.join(unknown) or '(none)'}; "
                           f"expected a comma-separated list of {', '.join(STAGE_ORDER)}")
    return stages


def verdict_table(verdict: Verdict) -> None:
    """The short verdict table printed at the end of a run."""
    table = Table(title=f"synthgate {verdict.target}: {verdict.verdict.upper()} (exit {verdict.exit_code})")
    for col in ("stage", "status", "checks", "failed", "accepted", "flaky", "time"):
        table.add_column(col)
    for s in verdict.stages:
        flaky = sum(1 for c in s.checks if c.is_flaky)
        accepted = sum(1 for c in s.checks if c.status == "accepted")
        table.add_row(s.name, s.status, str(len(s.checks)), str(len(s.failed_checks)), str(accepted), str(flaky),
                      f"{s.duration_s:.1f} s")
    console.print(table)
    for line in outcome_lines(verdict):
        console.print(redactor(line), markup=False)
    if verdict.rollback.triggered:
        console.print(redactor(f"rollback: exit {verdict.rollback.exit_code}, verified {verdict.rollback.verified}"
                               f": {verdict.rollback.message}"), markup=False)
    console.print(redactor(verdict.reason), markup=False)


def outcome_lines(verdict: Verdict) -> list[str]:
    """What the console says below the table: failures, tool errors, accepted defects, debt, stale acceptances."""
    lines = []
    for stage, check in verdict.failed_checks():
        word = "ERROR" if check.is_tool_error else "FAILED"
        lines.append(f"{word} {stage}/{check.id}: {check.message}")
    for stage, check in verdict.accepted_checks():
        note = check.acceptance
        lines.append(f"accepted {stage}/{check.id}: {note and note.reason} (until {note and note.until}): "
                     f"{check.message[:200]}")
    for stage, check in verdict.debt_checks():
        found = check.debt
        if found is None or not found.existing:
            continue  # only new findings: the FAILED line says it all
        lines.append(f"debt {stage}/{check.id}: {len(found.existing)} existing, {len(found.new)} new finding(s)")
    if verdict.debt and verdict.debt.first_run:
        lines.append("debt: no previous release to compare with: this run's findings are the starting debt")
    for entry in verdict.stale_acceptances:
        lines.append(f"stale acceptance {entry.check} ({entry.reason}, until {entry.until}): "
                     "matched no failing check in this run")
    if verdict.verdict == "error":
        lines.append("this is synthgate's problem (or the team's test code's), not evidence against the deployment; "
                     f"read {verdict.log or 'the logs'} in the reports directory")
    return lines


def _gate(
    profile: str, base_url: str | None, stages: str | None, reports: Path, no_rollback: bool, demo_fault: str | None,
    release: str | None, baseline: str | None, history_db: str | None, stage_options: StageOptions,
    expect_release: str | None = None, deadline_s: float | None = None,
) -> None:
    from synthgate.deadline import parse_deadline  # deferred: start-up speed
    from synthgate.demo import embedded
    from synthgate.gate import GateOptions, run_gate
    from synthgate.store import open_history

    try:
        db = open_history(history_db)  # a database that cannot be used stops the gate before any check runs
        explicit = stages is not None
        opts = GateOptions(profile=profile, base_url=base_url, stages=parse_stages(stages or ",".join(STAGE_ORDER)),
                           stages_explicit=explicit, reports_dir=reports,
                           no_rollback=no_rollback, open_target=embedded.opener(base_url, demo_fault),
                           release=release, baseline=baseline,
                           expect_release=expect_release, deadline_s=parse_deadline(deadline_s),
                           history_db=db, stage_options=stage_options, progress=say)
        verdict = run_gate(opts)
    except ProfileError as exc:
        raise usage_error(str(exc)) from None
    except KeyboardInterrupt:
        err.print("synthgate: interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - a user sees one clear line, never a traceback
        err.print(redactor(f"synthgate: error (synthgate's own, not the deployment's): {exc.__class__.__name__}: "
                           f"{exc}"), markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    verdict_table(verdict)
    say(f"reports: {reports}/ (verdict.json, summary.md, junit.xml, report.html, allure-results/)")
    raise typer.Exit(verdict.exit_code)


@app.command()
def run(
    profile: DefaultProfileOpt = None,
    base_url: BaseUrlOpt = None,
    stages: Annotated[str | None, typer.Option(
        help="comma-separated stages (default: every stage the profile declares)")] = None,
    reports: ReportsOpt = Path("reports"),
    no_rollback: Annotated[bool, typer.Option("--no-rollback", help="never roll back")] = False,
    demo_fault: Annotated[str | None, typer.Option(help="start the embedded target with this fault")] = None,
    release: Annotated[str | None, typer.Option(help="release id (default: health's version)")] = None,
    expect_release: Annotated[str | None, typer.Option(
        help="wait until the release marker (profile release:) shows this before judging; never live: exit 4")] = None,
    baseline: Annotated[str | None, typer.Option(help="last-pass (default), none, or a reports dir")] = None,
    history_db: Annotated[str | None, typer.Option(
        "--db", envvar="SYNTHGATE_DB", help="run history and rollback lock: a SQLite path (default "
        "$SYNTHGATE_HOME/synthgate.db) or a postgresql:// URL shared by every runner")] = None,
    seed: Annotated[int | None, typer.Option(help="fuzz seed, to reproduce a run")] = None,
    workers: Annotated[int | None, typer.Option(help="local Locust workers for the load stage")] = None,
    deadline: Annotated[float | None, typer.Option(
        help="seconds for the whole run, reports included (default: the stages' budgets plus a margin)")] = None,
) -> None:
    """Gate a deployment: smoke, e2e, fuzz, load; decide; report; roll back on failure."""
    options = StageOptions(seed=seed, workers=workers)
    profile = profile or default_profile()
    _gate(profile, base_url, stages, reports, no_rollback, demo_fault, release, baseline, history_db, options,
          expect_release, deadline)


@app.command()
def load(
    profile: DefaultProfileOpt = None,
    base_url: BaseUrlOpt = None,
    reports: ReportsOpt = Path("reports"),
    users: Annotated[int | None, typer.Option(help="concurrent users (closed model)")] = None,
    spawn_rate: Annotated[float | None, typer.Option(help="users started per second")] = None,
    duration: Annotated[float | None, typer.Option(help="seconds of load")] = None,
    arrival_rate: Annotated[float | None, typer.Option(help="open model: target requests per second")] = None,
    workers: Annotated[int | None, typer.Option(help="local Locust worker processes")] = None,
    rollback: Annotated[bool, typer.Option("--rollback/--no-rollback", help="roll back when it fails")] = False,
    demo_fault: Annotated[str | None, typer.Option(help="start the embedded target with this fault")] = None,
    deadline: Annotated[float | None, typer.Option(
        help="seconds for the whole run, reports included (default: the stages' budgets plus a margin)")] = None,
    master: Annotated[bool, typer.Option("--master", help="be the master of remote load workers")] = False,
    expect_workers: Annotated[int | None, typer.Option(
        help="with --master: start once this many remote workers are accepted")] = None,
    bind: Annotated[str | None, typer.Option(
        help="with --master: HOST:PORT the workers connect to (default *:5557, every interface)")] = None,
    worker: Annotated[bool, typer.Option(
        "--worker", help="be a load worker of --master-host (needs no profile: the master sends it)")] = False,
    master_host: Annotated[str | None, typer.Option(help="with --worker: the master's HOST[:PORT]")] = None,
) -> None:
    """Pre-release load test: the load stage alone, with its thresholds, for as long as asked."""
    if worker:
        _load_worker(master_host, profile)
    options = StageOptions(users=users, spawn_rate=spawn_rate, duration_s=duration, arrival_rate=arrival_rate,
                           workers=workers)
    if master_host is not None:
        raise usage_error("--master-host: only with --worker (a master binds with --bind)")
    if master or expect_workers is not None or bind is not None:
        if not master:
            raise usage_error("--expect-workers/--bind: only with --master")
        if not expect_workers or expect_workers < 1:
            raise usage_error("--expect-workers: expected the number of remote workers (1 or more) with --master")
        from synthgate.loadgen.runner import split_host_port  # deferred: start-up speed

        try:
            split_host_port(bind or "*:5557")
        except ValueError as exc:
            raise usage_error(f"--bind: {exc}") from None
        options = options.model_copy(update={"expect_workers": expect_workers, "bind": bind or "*:5557"})
    profile = profile or default_profile()
    _gate(profile, base_url, "load", reports, not rollback, demo_fault, None, "none", None, options,
          deadline_s=deadline)


def _load_worker(master_host: str | None, profile: str | None) -> None:
    """`synthgate load --worker`: check the arguments, then become a Locust worker of the master."""
    from synthgate.loadgen.runner import exec_worker, split_host_port  # deferred: start-up speed
    from synthgate.profile import load_profile  # deferred: start-up speed

    if not master_host:
        raise usage_error("--worker: expected --master-host HOST[:PORT] (the machine running `load --master`)")
    try:
        split_host_port(master_host)
    except ValueError as exc:
        raise usage_error(f"--master-host: {exc}") from None
    if profile:  # optional: only to check it is the master's very profile
        try:
            load_profile(profile)
        except ProfileError as exc:
            raise usage_error(str(exc)) from None
    say(f"load worker: connecting to the master at {master_host}")
    exec_worker(master_host, profile)


@app.command()
def rollout(
    new: Annotated[str, typer.Option("--new", help="the version to roll out (e.g. from `wrangler versions upload`)")],
    old: Annotated[str, typer.Option("--old", help="the version serving users now")],
    profile: DefaultProfileOpt = None,
    base_url: BaseUrlOpt = None,
    reports: ReportsOpt = Path("reports"),
    changes_data: Annotated[bool | None, typer.Option(
        "--changes-data/--no-changes-data", help="the release changes schema or data: snapshot before, restore "
        "on failure (default: the profile's rollout.changes_data)")] = None,
    no_rollback: Annotated[bool, typer.Option("--no-rollback", help="never run the code rollback")] = False,
    history_db: Annotated[str | None, typer.Option(
        "--db", envvar="SYNTHGATE_DB", help="run history and rollback lock (as for `run`)")] = None,
    deadline: Annotated[float | None, typer.Option(
        help="seconds for the whole rollout (default: rollout.deadline_s, else from the steps)")] = None,
) -> None:
    """Progressive delivery: the new version pinned at 0 %, then traffic steps compared side by side with the
    old one; any failure, the deadline, SIGTERM or SIGINT put the old version back at 100 %."""
    from synthgate.deadline import parse_deadline  # deferred: start-up speed
    from synthgate.rollout.runner import RolloutOptions, run_rollout  # deferred: start-up speed
    from synthgate.store import open_history  # deferred: start-up speed

    try:
        opts = RolloutOptions(profile=profile or default_profile(), new=new, old=old, base_url=base_url,
                              reports_dir=reports, changes_data=changes_data, no_rollback=no_rollback,
                              history_db=open_history(history_db), deadline_s=parse_deadline(deadline), progress=say)
        verdict = run_rollout(opts)
    except ProfileError as exc:
        raise usage_error(str(exc)) from None
    verdict_table(verdict)
    say(f"reports: {reports}/ (verdict.json with its rollout section, summary.md, report.html)")
    raise typer.Exit(verdict.exit_code)


@app.command()
def report(
    source: Annotated[Path, typer.Option("--from", help="a saved reports dir (with verdict.json)")],
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of --from")] = None,
) -> None:
    """Re-render every report format from a saved run, without re-running checks."""
    from synthgate import reports as writers  # deferred: start-up speed

    try:
        verdict = Verdict.load_file(source / "verdict.json")
    except FileNotFoundError:
        raise usage_error(f"{source}/verdict.json: not found (expected a reports dir of a previous run)") from None
    except ValueError as exc:
        raise usage_error(f"{source}/verdict.json: not a synthgate verdict: {exc}") from None
    target = out or source
    if out is not None:  # evidence (screenshots, traces) travels with the reports that link and inline it
        writers.copy_evidence(verdict, source, out)
    for path in writers.write_all(verdict, target):
        say(f"wrote {path}")
    raise typer.Exit(0)


def _demo_state(state: Path | None, port: int) -> Path:
    from synthgate.demo.releases import default_state_path  # deferred: start-up speed

    return state or default_state_path(port)


StateOpt = Annotated[Path | None, typer.Option(help="release state file (default: per port, or SYNTHGATE_DEMO_STATE)")]
PortOpt = Annotated[int, typer.Option(help="port of the demo target")]


@demo_app.command("serve")
def demo_serve(port: PortOpt = 8000, fault: Annotated[str | None, typer.Option()] = None,
               state: StateOpt = None, host: str = "127.0.0.1",
               tls: Annotated[bool, typer.Option("--tls", help="HTTPS: a CA and certificate made at start")] = False,
               versions: Annotated[bool, typer.Option(
                   "--versions", help="serve uploaded versions behind one port, split like Cloudflare Workers "
                   "(see `synthgate demo versions`)")] = False,
               ) -> None:
    """Serve the embedded demo target (healthy, or with --fault NAME current)."""
    from synthgate.demo.faults import FAULTS  # deferred: start-up speed
    from synthgate.demo.serve import serve
    from synthgate.demo.tls import tls_dir_for, uses_tls

    if fault and fault not in FAULTS:
        raise usage_error(f"--fault: unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    if versions:
        if tls:
            raise usage_error("--tls: not with --versions (the versions stand-in serves plain HTTP)")
        _serve_versions(port, _demo_state(state, port), fault, host)
        return
    scheme = "https" if uses_tls(fault, tls) else "http"
    say(f"synthgate demo target on {scheme}://{host}:{port} (release state {_demo_state(state, port)})")
    if scheme == "https":
        say(f"trust its CA: SYNTHGATE_CA_BUNDLE={tls_dir_for(_demo_state(state, port)) / 'ca.pem'} (or tls.ca_bundle)")
    serve(port=port, state_path=_demo_state(state, port), fault=fault, host=host, tls=tls)


@demo_app.command("deploy")
def demo_deploy(fault: Annotated[str | None, typer.Option(help="fault to deploy (none: healthy)")] = None,
                port: PortOpt = 8000, state: StateOpt = None) -> None:
    """Make a new release current (broken with --fault NAME); the current one becomes previous."""
    from synthgate.demo import releases  # deferred: start-up speed
    from synthgate.demo.faults import FAULTS

    if fault and fault not in FAULTS:
        raise usage_error(f"--fault: unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    path = _demo_state(state, port)
    try:
        releases.deploy(path, fault)
    except (OSError, ValueError, RuntimeError) as exc:
        raise usage_error(f"{path}: {exc}") from None
    say(f"deployed {releases.read_state(path)['current']}")


@demo_app.command("rollback")
def demo_rollback(port: PortOpt = 8000, state: StateOpt = None) -> None:
    """Restore the previous release."""
    from synthgate.demo import releases  # deferred: start-up speed

    path = _demo_state(state, port)
    try:
        releases.rollback(path)
    except (OSError, ValueError, RuntimeError) as exc:
        err.print(f"synthgate: rollback failed: {path}: {exc}", markup=False)
        raise typer.Exit(1) from None
    say(f"rolled back to {releases.read_state(path)['current']}")


@demo_app.command("status")
def demo_status(port: PortOpt = 8000, state: StateOpt = None) -> None:
    """Show the current and previous release."""
    import json

    from synthgate.demo import releases  # deferred: start-up speed

    path = _demo_state(state, port)
    try:
        say(json.dumps(releases.read_state(path), indent=2))
    except (OSError, ValueError) as exc:
        raise usage_error(f"{path}: {exc}") from None


versions_app = typer.Typer(no_args_is_help=True, help="The demo's versions (`demo serve --versions`): upload, "
                           "deploy a split, status; Cloudflare Workers' contract on one port.")
demo_app.add_typer(versions_app, name="versions")
VersionsStateOpt = Annotated[Path, typer.Option("--state", help="the versions state file `demo serve --versions` uses")]


def _serve_versions(port: int, state: Path, fault: str | None, host: str) -> None:
    from synthgate.demo.versions_server import serve  # deferred: start-up speed

    say(f"synthgate demo versions on http://{host}:{port} (state {state}); v1 takes 100 %")
    serve(port, state, fault, host)


@versions_app.command("upload")
def versions_upload(state: VersionsStateOpt,
                    fault: Annotated[str | None, typer.Option(help="a catalog fault the version carries")] = None,
                    ) -> None:
    """Add a version without traffic (healthy, or with --fault NAME); prints its id as the last line."""
    from synthgate.demo import versions  # deferred: start-up speed

    try:
        version = versions.upload(state, fault)
    except ValueError as exc:
        raise usage_error(f"--state {state}: {exc}" if isinstance(exc, versions.VersionsError)
                          else f"--fault: {exc}") from None
    say(f"uploaded version {version} ({fault or 'healthy'}), no traffic until deployed")
    say(version)


@versions_app.command("deploy")
def versions_deploy(state: VersionsStateOpt,
                    split: Annotated[list[str], typer.Argument(help="ID@PERCENT% (one or two, summing to 100)")],
                    ) -> None:
    """Split traffic between at most two versions, e.g. `v2@10% v1@90%` (0 % keeps a version reachable by
    the override header only)."""
    from synthgate.demo import versions  # deferred: start-up speed

    try:
        deployment = versions.deploy(state, split)
    except versions.VersionsError as exc:
        raise usage_error(f"demo versions deploy: {exc}") from None
    say("deployed " + " ".join(f"{v}@{p:g}%" for v, p in deployment.items()))


@versions_app.command("status")
def versions_status(state: VersionsStateOpt,
                    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The split (versions with traffic), the deployment (0 % included) and every uploaded version."""
    import json

    from synthgate.demo import versions  # deferred: start-up speed

    try:
        current = versions.status(state)
    except versions.VersionsError as exc:
        raise usage_error(str(exc)) from None
    if as_json:
        print(json.dumps(current))
        return
    say("split: " + ", ".join(f"{v} {p:g} %" for v, p in current["split"].items()))
    say("deployment: " + ", ".join(f"{v} {p:g} %" for v, p in current["deployment"].items()))
    for version, info in current["versions"].items():
        say(f"  {version}: {info.get('fault') or 'healthy'} (uploaded {info.get('uploaded_at')})")


def _register_subcommands(args: list[str]) -> None:
    """Commands that live in their own packages, imported only when the CLI runs; probe's (its store and
    scheduler, a third of the CLI's start-up) only when it is the command, or when help lists every command."""
    from synthgate.project.commands import register  # deferred: start-up speed

    if not args or args[0] == "probe" or args[0].startswith("-"):
        from synthgate.probe.cli import probe_app  # deferred: start-up speed (0.3 s of CPU per `synthgate run`)

        app.add_typer(probe_app, name="probe")
    register(app)  # init, validate, schema, --version


def main() -> None:
    """Console-script entry point."""
    _register_subcommands(sys.argv[1:2])
    app(prog_name="synthgate")


if __name__ == "__main__":
    sys.exit(main())
