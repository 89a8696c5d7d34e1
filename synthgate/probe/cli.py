"""`synthgate probe`: run the scheduler (the group itself), `probe status` and `probe report`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from synthgate.console import err, fail, table_console
from synthgate.probe.alerts import human_duration, iso
from synthgate.probe.jobs import ProbeSetupError
from synthgate.probe.report import WINDOWS, ProbeReport, age, build, fmt_ms, to_json
from synthgate.profile import ProfileError, default_profile, load_profile
from synthgate.profile.common import parse_duration
from synthgate.redact import redactor
from synthgate.results import EXIT_FAIL
from synthgate.store import Store, StoreError, resolve_db

probe_app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False,
    help="Scheduled synthetic probes: the profile's checks on a schedule, with history, incidents, alerts, "
         "metrics and a status page. Without a subcommand, runs the probe.")

console = table_console

DbOpt = Annotated[str | None, typer.Option("--db", envvar="SYNTHGATE_DB", help="probe history: a SQLite path (default "
                                           "$SYNTHGATE_HOME/synthgate.db or ~/.local/share/synthgate/synthgate.db) "
                                           "or a postgresql:// URL shared by every location")]
LocationOpt = Annotated[str, typer.Option("--location", envvar="SYNTHGATE_LOCATION",
                                          help="where this probe runs (a label, e.g. eu-west)")]


def _duration(option: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None
    if seconds <= 0:
        raise fail(f"{option}: expected a positive duration such as 30s, 5m or 7d, got {value!r}")
    return seconds


@probe_app.callback(invoke_without_command=True)
def probe(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="profile file or bundled name (default: "
                                                "./synthgate.yaml when present, else demo)")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="overrides SYNTHGATE_BASE_URL, API_URL, "
                                                 "profile")] = None,
    every: Annotated[str | None, typer.Option(help="interval of checks without their own (default: the "
                                              "profile's probe.every), e.g. 30s, 5m")] = None,
    stages: Annotated[str | None, typer.Option(help="smoke and/or e2e, comma-separated (default: the profile's "
                                               "probe.stages)")] = None,
    db: DbOpt = None,
    once: Annotated[bool, typer.Option("--once", help="run one round and exit with the gate's exit codes")] = False,
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics on this port")] = None,
    metrics_addr: Annotated[str, typer.Option(help="address of the metrics server")] = "0.0.0.0",
    location: LocationOpt = "default",
    reports: Annotated[Path, typer.Option("--reports", help="where status.html is written")] = Path("reports"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print failures and incidents only")] = False,
    no_alerts: Annotated[bool, typer.Option("--no-alerts", help="do not send the profile's alerts (e.g. to try "
                                            "a profile without its webhook secrets)")] = False,
    alert_grace: Annotated[str, typer.Option(help="at exit, how long pending alerts may still take (the rest go "
                                             "out on the next start)")] = "10s",
) -> None:
    """Probe the target on a schedule until stopped (SIGTERM: after the checks in flight), or once with --once."""
    if ctx.invoked_subcommand is not None:
        return
    from synthgate.demo import embedded  # deferred: start-up speed
    from synthgate.probe.service import ProbeOptions, run_probe

    stage_list = [s.strip() for s in stages.split(",") if s.strip()] if stages is not None else None

    profile = profile or default_profile()
    opts = ProbeOptions(profile=profile, base_url=base_url, every=_duration("--every", every), stages=stage_list,
                        db=db, once=once, metrics_port=metrics_port, metrics_addr=metrics_addr, location=location,
                        reports_dir=reports, quiet=quiet, alert_grace_s=_duration("--alert-grace", alert_grace) or 10.0,
                        no_alerts=no_alerts, open_target=embedded.opener(base_url))
    try:
        code = run_probe(opts)
    except (ProfileError, ProbeSetupError, StoreError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        err.print("synthgate: interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - a user sees one clear line, never a traceback
        raise fail(f"internal error: {exc.__class__.__name__}: {exc}", EXIT_FAIL) from None
    raise typer.Exit(code)


def _open(db: str | None) -> Store:
    path = resolve_db(db)
    if isinstance(path, Path) and not path.exists():
        raise fail(f"{path}: no probe history (run `synthgate probe` first, or pass --db)")
    try:
        return Store(path)
    except StoreError as exc:
        raise fail(str(exc)) from None


def _profile_name(spec: str | None) -> str | None:
    """A profile's name from a name or a profile file (status and report filter on the name)."""
    if spec is None or not spec.endswith((".yaml", ".yml")):
        return spec

    try:
        return load_profile(spec)[0].name
    except ProfileError as exc:
        raise fail(str(exc)) from None


def _reports(store: Store, profile: str | None, location: str | None, since_s: float,
             slo: float | None = None) -> list[ProbeReport]:
    targets = store.probe_targets(_profile_name(profile), location)
    if not targets:
        which = " ".join(x for x in (profile, location) if x) or "any target"
        raise fail(f"{store.label}: no probe history for {which}")
    now = time.time()
    return [build(store, t["profile"], t["location"], since_s=since_s, now=now, slo=slo) for t in targets]


ProfileFilter = Annotated[str | None, typer.Option("--profile", "-p", help="only this profile (name or file)")]
LocationFilter = Annotated[str | None, typer.Option("--location", help="only this location")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of tables")]


@probe_app.command("status")
def status(profile: ProfileFilter = None, location: LocationFilter = None, db: DbOpt = None,
           as_json: JsonOpt = False) -> None:
    """Current state of every check and open incidents; exit 1 while an incident is open."""
    with _open(db) as store:
        reports = _reports(store, profile, location, since_s=86400.0)
    if as_json:
        sys.stdout.write(redactor(json.dumps([to_json(r) for r in reports], indent=2)) + "\n")
    for r in reports if not as_json else []:
        now = r.generated_at
        console.print(redactor(f"{r.profile} @ {r.location}: {r.base_url} (probe pid {r.pid}, started "
                               f"{age(r.started_at, now)})"), markup=False)
        if r.open_incident is not None:
            inc = r.open_incident
            seen = f" (seen from {', '.join(inc.locations)})" if inc.locations else ""
            console.print(redactor(f"  OPEN INCIDENT #{inc.id} since {iso(inc.started_at)} "
                                   f"({human_duration(now - inc.started_at)}): {', '.join(inc.checks)}: "
                                   f"{inc.message}{seen}"), markup=False, style="bold red")
        else:
            console.print("  no open incident", markup=False)
        table = Table(show_edge=False)
        for col in ("check", "state", "streak", "last run", "latency", "message"):
            table.add_column(col, no_wrap=col != "message")
        for c in r.checks:
            s = c.state
            streak = "" if s is None else (f"{s.consecutive_failures} failed" if s.consecutive_failures
                                           else f"{s.consecutive_successes} passed")
            msg = "" if s is None or s.last_outcome == "up" else s.last_message[:120]
            table.add_row(c.check_id, c.label, streak, age(s.last_ts if s else None, now),
                          fmt_ms(s.last_latency_ms if s else None), redactor(msg))
        console.print(table)
    raise typer.Exit(EXIT_FAIL if any(r.open_incident is not None for r in reports) else 0)


@probe_app.command("report")
def report(
    since: Annotated[str, typer.Option(help="span of latency percentiles, downtime and incidents, e.g. 24h, "
                                       "7d")] = "7d",
    profile: ProfileFilter = None, location: LocationFilter = None, db: DbOpt = None,
    slo: Annotated[float | None, typer.Option(help="uptime target in percent (default: the probe's profile)")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Uptime per check over 24 h / 7 d / 30 d against the SLO, error budget, latency P50/P95, incidents."""
    since_s = _duration("--since", since) or 7 * 86400.0
    if slo is not None and not 0 < slo <= 100:
        raise fail(f"--slo: expected a percentage in (0, 100], got {slo}")
    with _open(db) as store:
        reports = _reports(store, profile, location, since_s, slo)
    if as_json:
        sys.stdout.write(redactor(json.dumps([to_json(r) for r in reports], indent=2)) + "\n")
        raise typer.Exit(0)
    for r in reports:
        _print_report(r)
    raise typer.Exit(0)


def _print_report(r: ProbeReport) -> None:
    now = r.generated_at
    span = human_duration(r.since_s)
    console.print(redactor(f"{r.profile} @ {r.location}: {r.base_url}  SLO {r.slo:g} %  (report {iso(now)})"),
                  markup=False, style="bold")
    table = Table(show_edge=False, caption=f"uptime: passed / (passed + failed) runs; latency over the last {span}")
    table.add_column("check", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for col in (*(f"up {n}" for n, _ in WINDOWS), "budget 30d", "P50", "P95", "runs 30d"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in r.checks:
        w30 = c.windows["30d"]
        budget = w30.budget_left(r.slo)
        budget_text = "-" if budget is None else "exhausted" if budget <= 0 else f"{budget:.1f}%"
        table.add_row(c.check_id, c.label, *(_pct(c.windows[n].uptime) for n, _ in WINDOWS), budget_text,
                      fmt_ms(c.p50_ms), fmt_ms(c.p95_ms), str(w30.up + w30.down + w30.unknown))
    console.print(table)
    console.print(f"downtime in the last {span}: {human_duration(r.downtime_s())} over {len(r.incidents)} "
                  f"incident(s)", markup=False)
    if r.incidents:
        inc_table = Table(show_edge=False)
        for col in ("incident", "started", "resolved", "downtime", "checks", "first failure"):
            inc_table.add_column(col, no_wrap=col != "first failure")
        for inc in r.incidents:
            end = inc.resolved_at if inc.resolved_at is not None else now
            inc_table.add_row(f"#{inc.id}", iso(inc.started_at) or "", iso(inc.resolved_at) or "OPEN",
                              human_duration(end - inc.started_at) + ("" if inc.resolved_at else " so far"),
                              ", ".join(inc.checks), redactor(inc.message[:100]))
        console.print(inc_table)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}%"
