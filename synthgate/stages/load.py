"""The load stage: Locust (in subprocesses) against the profile's latency, error-rate and throughput limits.

Each threshold is one check (`load.p50`, `load.p95`, `load.p99`, `load.error_rate`, `load.min_rps`) whose
message and details carry the measured value and the limit. Percentiles come from HDR histograms of every
sample (microsecond resolution), never from Locust's rounded buckets.

Rules for thin or missing data (inconclusive is never a pass):
- the profile has no `load:` section, or nothing was sent, or the run produced no result: one failed
  check of kind "no-data";
- every request failed to reach the target (DNS failure or connect timeout): kind "unreachable";
- no latency sample at all (e.g. every connection refused): each latency check fails as "no-data",
  while the error rate (100 %) is evidence and fails the gate;
- a percentile with too few samples for its rank (P50 < 2, P95 < 20, P99 < 100) is not a pass: its check
  is "skipped" with the count in its message and in the summary's notes, and the gate decides on what
  was measurable; if no threshold at all was measurable, a failed "no-data" check says so.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from synthgate import version_pin
from synthgate.loadgen.plan import build_plan
from synthgate.loadgen.runner import PERCENTILE_MIN_SAMPLES, LoadRunError, LoadRunResult, LoadRunSpec, run_load
from synthgate.profile.load import LoadConfig
from synthgate.results import CheckResult, LoadSummary, StageResult, Traffic
from synthgate.stages import user_checks
from synthgate.stages.base import StageContext
from synthgate.stages.pytest_suite import run_user_checks
from synthgate.version_pin import VersionPin

STAGE = "load"
_HTTP_5XX = re.compile(r": HTTP 5\d\d$")
MAX_DURATION_S = 86_400.0
MAX_USERS = 10_000
MAX_WORKERS = 64
RATE_TOLERANCE = 0.05  # a run whose workers dropped out is inconclusive below 95 % of the asked rate
MAX_WRONG_VERSION_SHARE = 0.05  # pinned: above this share of answers from another version, the run is no data


def run(ctx: StageContext) -> StageResult:
    """Run the profile's load test against ctx.base_url and gate on its thresholds."""
    started = time.monotonic()
    cfg = ctx.profile.load
    if cfg is None and not user_checks.dirs(ctx, STAGE):
        return StageResult.skipped(STAGE, "the profile declares no load section")
    if cfg is None:
        return _no_data(started, "inconclusive: the profile declares no load tasks (add a 'load:' section)")
    remote = bool(ctx.options.expect_workers or cfg.distributed)
    try:
        plan = build_plan(ctx.profile, resolve=not remote)  # remote workers resolve secrets themselves
    except ValueError as exc:  # an unresolvable ${secrets.X} / ${vars.X}
        return _no_data(started, f"inconclusive: the load tasks cannot be built: {exc}")
    if not plan.requests:
        return _no_data(
            started,
            "inconclusive: every load task is a write (POST/PUT/PATCH/DELETE) and load.allow_writes is off",
        )
    out_dir = ctx.reports_dir / (STAGE if not ctx.label else f"{STAGE}-{ctx.label}")
    spec = _spec(ctx, cfg, out_dir)
    if ctx.deadline is not None:  # the gate's --deadline: Locust is stopped before it (no data: inconclusive)
        left = max(1.0, ctx.deadline - time.monotonic())
        if left < (spec.timeout_s or float("inf")):
            spec.timeout_s = left
    mode = f"open model, {spec.arrival_rate:g} req/s" if spec.arrival_rate else "closed model"
    where = (f", master for {spec.expect_workers} remote workers on {spec.bind or '*:5557'}"
             if spec.expect_workers else f", {spec.workers} workers" if spec.workers else "")  # fmt: skip
    ctx.progress(f"load: {spec.users} users, {spec.duration_s:g} s, {mode}{where}")
    with tempfile.TemporaryDirectory(prefix="synthgate-load-profile-") as tmp:
        # the subprocess reads the profile as this process has it (CLI overrides included)
        profile_file = Path(tmp) / "profile.yaml"
        profile_file.write_text(json.dumps(ctx.profile.model_dump(mode="json", by_alias=True)), encoding="utf-8")
        spec.profile = str(profile_file)
        try:
            result = run_load(spec, progress=ctx.progress)
        except LoadRunError as exc:
            return _no_data(started, f"inconclusive: the load generator failed: {exc}")
    notes = list(result.notes)
    if plan.skipped_writes:
        notes.append(f"write tasks not sent (load.allow_writes is off): {', '.join(plan.skipped_writes)}")
    checks = threshold_checks(result, cfg)
    pinned = version_check(result, VersionPin.from_option(ctx.options.pin))
    if pinned is not None:
        if pinned.status == "failed":  # the figures are not the pinned version's: nothing they say is evidence
            checks = [c.model_copy(update={"kind": "no-data"}) if c.is_evidence_failure else c for c in checks]
        checks.append(pinned)
        notes.append(pinned.message)
    workers_check = dropout_check(result)
    if workers_check is not None:
        checks.append(workers_check)
        notes.append(workers_check.message)
    if any(c.unmeasurable for c in checks):
        notes.extend(c.message for c in checks if c.unmeasurable)
    evidence = [
        str(Path(p).relative_to(ctx.reports_dir))
        for k, p in result.artefacts.items()
        if k in ("html", "stats_csv") and Path(p).is_relative_to(ctx.reports_dir)
    ]
    for check in checks:
        if check.status == "failed":
            check.evidence = evidence
    for task in cfg.tasks:  # each request name's limits and verdicts beside its figures
        if task.label in result.per_request:
            result.per_request[task.label]["thresholds"] = task.limits(cfg.thresholds)
            result.per_request[task.label]["checks"] = {
                c.id: c.status for c in checks if c.load_task == task.label}
    summary = LoadSummary(
        p50_ms=result.p50_ms,
        p95_ms=result.p95_ms,
        p99_ms=result.p99_ms,
        error_rate=result.error_rate,
        rps=result.rps,
        requests=result.requests,
        thresholds={k: float(v) for k, v in cfg.thresholds.model_dump().items() if v is not None},
        percentiles=result.percentiles,
        per_request=result.per_request,
        history=result.history,
        notes=notes,
    )
    details: dict[str, Any] = {
        "run": {
            "mode": result.mode,
            "arrival_rate": result.arrival_rate,
            "users": spec.users,
            "workers": spec.expect_workers or spec.workers,
            "cluster": result.cluster,
            "duration_s": spec.duration_s,
            "measured_s": result.duration_s,
            "wall_s": result.wall_s,
            "samples": result.samples,
            "errors": dict(sorted(result.errors.items(), key=lambda kv: -kv[1])[:20]),
        },
        "artefacts": {
            k: str(Path(p).relative_to(ctx.reports_dir)) if Path(p).is_relative_to(ctx.reports_dir) else p
            for k, p in result.artefacts.items()
        },
    }
    # the team's own checks in tests/load/ run after the load, on the warmed service
    checks += run_user_checks(ctx, STAGE, timeout_s=300, extra_args=["-p", "no:schemathesis"])
    return StageResult.from_checks(
        STAGE,
        checks,
        time.monotonic() - started,
        message=_headline(result),
        details=details,
        load=summary,
        traffic=Traffic(sent=result.requests, server_errors=server_error_count(result)),  # the 5xx budget
        samples_ms=result.samples_ms,
        histograms=result.histograms,
    )


def dropout_check(result: LoadRunResult) -> CheckResult | None:
    """Remote workers that dropped out: inconclusive when the delivered rate fell short of the asked one."""
    cluster = result.cluster or {}
    if not cluster.get("workers"):
        return None
    dropped = list(cluster.get("dropped") or [])
    took_part = len(cluster["workers"])
    details = {"workers": cluster["workers"], "dropped": dropped, "refused": cluster.get("refused") or {}}
    if not dropped:
        return CheckResult(id="load.workers", status="passed", details=details,
                           message=f"all {took_part} workers stayed to the end")  # fmt: skip
    hosts = ", ".join(f"{w['host']}/{w['id'][-8:]}" for w in cluster["workers"] if w["id"] in dropped)
    asked = result.arrival_rate if result.mode == "open" else None
    if asked and result.rps < (1.0 - RATE_TOLERANCE) * asked:
        return CheckResult(
            id="load.workers", status="failed", kind="no-data", details=details,
            message=(f"inconclusive: {len(dropped)} of {took_part} workers dropped out mid-run ({hosts}); "
                     f"{result.rps:,.1f} req/s delivered of {asked:g} asked"),
        )  # fmt: skip
    return CheckResult(
        id="load.workers", status="passed", details=details,
        message=(f"{len(dropped)} of {took_part} workers dropped out mid-run ({hosts}); the others still "
                 f"delivered {result.rps:,.1f} req/s" + (f" of {asked:g} asked" if asked else "")),
    )  # fmt: skip


def version_check(result: LoadRunResult, pin: VersionPin | None) -> CheckResult | None:
    """Pinned (synthgate rollout): how many answers another version served; too many make the run no data."""
    if pin is None or not pin.verifiable:
        return None
    total = result.requests + result.wrong_version
    share = result.wrong_version / total if total else 0.0
    details = {"pinned_to": pin.version, "answers": total, "wrong_version": result.wrong_version,
               "share": round(share, 4), "max_share": MAX_WRONG_VERSION_SHARE}
    said = (f"{result.wrong_version} of {total} answers came from another version than the pinned "
            f"{pin.version} ({share:.1%}), not counted in any figure")
    if share > MAX_WRONG_VERSION_SHARE:
        return CheckResult(id="load.version", status="failed", kind="no-data", details=details,
                           message=f"inconclusive: {said}; above {MAX_WRONG_VERSION_SHARE:.0%}, the run says "
                                   f"nothing about {pin.version} (a stale edge or an override not applied)")
    return CheckResult(id="load.version", status="passed", details=details, message=said)


def server_error_count(result: LoadRunResult) -> int:
    """How many load requests the deployment answered with a 5xx (errors are recorded as "NAME: HTTP 5xx")."""
    return sum(count for err, count in result.errors.items() if _HTTP_5XX.search(err))


def _spec(ctx: StageContext, cfg: LoadConfig, out_dir: Path) -> LoadRunSpec:
    """Run settings: the profile's, overridden by ctx.options, bounded."""
    opts = ctx.options

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    arrival = pick(opts.arrival_rate, cfg.arrival_rate)
    max_requests = pick(opts.max_requests, cfg.max_requests)
    dist = cfg.distributed
    expect_workers = int(pick(opts.expect_workers, dist.expect_workers if dist else 0) or 0)
    pin = VersionPin.from_option(opts.pin)
    return LoadRunSpec(
        # pinned to one version (synthgate rollout): the generator reads its headers from a pinned copy
        profile=str(version_pin.apply_headers(ctx.profile_path, pin, out_dir)),
        pin=pin.to_option() if pin is not None else None,
        base_url=ctx.base_url,
        users=max(1, min(int(pick(opts.users, cfg.users)), MAX_USERS)),
        spawn_rate=float(pick(opts.spawn_rate, cfg.spawn_rate)),
        duration_s=max(0.5, min(float(pick(opts.duration_s, cfg.duration_s)), MAX_DURATION_S)),
        arrival_rate=float(arrival) if arrival else None,
        max_requests=int(max_requests) if max_requests else None,
        workers=max(0, min(int(pick(opts.workers, cfg.workers)), MAX_WORKERS)),
        request_timeout_s=cfg.timeout_s or ctx.profile.defaults.timeout_s,
        user_class=str(pick(opts.user_class, cfg.user_class)),
        out_dir=out_dir,
        insecure_tls=bool(opts.insecure_tls),
        expect_workers=max(0, min(expect_workers, MAX_WORKERS)),
        bind=pick(opts.bind, dist.bind if dist else None),
        workers_wait_s=float(dist.wait_s if dist else 120.0),
    )


def threshold_checks(result: LoadRunResult, cfg: LoadConfig) -> list[CheckResult]:
    """One check per configured threshold, following the rules in this module's docstring."""
    th = cfg.thresholds
    limits: list[tuple[str, float]] = [
        (key, float(value))
        for key, value in (
            ("p50", th.p50_ms),
            ("p95", th.p95_ms),
            ("p99", th.p99_ms),
            ("error_rate", th.error_rate),
            ("min_rps", th.min_rps),
        )  # fmt: skip
        if value is not None
    ]
    if not limits:
        return []
    if result.requests == 0:
        return [_fail(f"load.{k}", "no-data", f"inconclusive: no request was sent, {_label(k)} not measured",
                      None, lim) for k, lim in limits]  # fmt: skip
    if result.all_unreachable:
        why = _top_error(result)
        return [_fail(f"load.{k}", "unreachable",
                      f"inconclusive: the runner could not reach the target ({why}); {_label(k)} not measured",
                      None, lim) for k, lim in limits]  # fmt: skip
    checks = [_one(result, key, limit) for key, limit in limits]
    if all(c.status == "skipped" for c in checks):
        checks.append(
            CheckResult(
                id="load.measurable",
                status="failed",
                kind="no-data",
                message=f"inconclusive: no threshold was measurable with {result.samples} samples",
                details={"samples": result.samples},
            )
        )
    return checks + task_checks(result, cfg)


def task_checks(result: LoadRunResult, cfg: LoadConfig) -> list[CheckResult]:
    """Per request name (like k6 thresholds on tags): each task's P50/P95/P99/error rate, ids `load.p95[NAME]`.

    A task inherits the profile's thresholds unless it sets its own; one bad endpoint cannot hide in the mix.
    """
    checks: list[CheckResult] = []
    for task in cfg.tasks:
        name = task.label
        stats = result.per_request.get(name)
        for key, limit in task.limits(cfg.thresholds).items():
            cid = f"load.{key}[{name}]"
            if not stats or not stats.get("requests"):
                checks.append(CheckResult(id=cid, status="skipped", message=f"{name}: no request of this task was "
                                          "sent", details={"task": name, "limit": limit, "unmeasurable": True}))
                continue
            check = _one(_task_result(result, name, stats), key, limit)
            check.id = cid
            check.message = f"{name}: {check.message}"
            check.details["task"] = name
            checks.append(check)
    return checks


def _task_result(result: LoadRunResult, name: str, stats: dict[str, Any]) -> LoadRunResult:
    """One request name's figures in the shape `_one` judges."""
    prefix = f"{name}: "
    return LoadRunResult(
        requests=int(stats.get("requests") or 0), failures=int(stats.get("failures") or 0),
        samples=int(stats.get("samples") or 0), error_rate=stats.get("error_rate"),
        p50_ms=stats.get("p50_ms"), p95_ms=stats.get("p95_ms"), p99_ms=stats.get("p99_ms"),
        errors={k[len(prefix):]: v for k, v in result.errors.items() if k.startswith(prefix)},
    )


def _one(result: LoadRunResult, key: str, limit: float) -> CheckResult:
    cid = f"load.{key}"
    if key == "error_rate":
        rate = result.error_rate or 0.0
        detail = f"{result.failures:,} of {result.requests:,} requests failed"
        if result.failures:
            detail += f"; most frequent: {_top_error(result)}"
        ok = rate <= limit
        op = "<=" if ok else ">"
        msg = f"error rate {_pct(rate)} {op} limit {_pct(limit)} ({detail})"
        return _check(cid, ok, msg, rate, limit, "ratio")
    if key == "min_rps":
        ok = result.rps >= limit
        op = ">=" if ok else "<"
        msg = f"throughput {result.rps:,.1f} req/s {op} minimum {limit:g} req/s ({result.requests:,} requests)"
        return _check(cid, ok, msg, result.rps, limit, "req/s")
    label = key.upper()
    need = PERCENTILE_MIN_SAMPLES[key]
    measured = {"p50": result.p50_ms, "p95": result.p95_ms, "p99": result.p99_ms}[key]
    if result.samples == 0 or measured is None:
        return _fail(cid, "no-data",
                     f"{label} not measured: no request got a response ({result.requests:,} sent; "
                     f"{_top_error(result)})", None, limit)  # fmt: skip
    if result.samples < need:
        return CheckResult(
            id=cid,
            status="skipped",
            message=(
                f"{label} not measurable: {result.samples} samples, {need} needed "
                f"(the {result.samples} samples give {measured:.1f} ms; limit {limit:g} ms)"
            ),
            details={
                "measured": measured,
                "limit": limit,
                "unit": "ms",
                "samples": result.samples,
                "needed": need,
                "unmeasurable": True,
            },  # fmt: skip
        )
    ok = measured <= limit
    op = "<=" if ok else ">"
    msg = f"{label} {measured:.1f} ms {op} limit {limit:g} ms ({result.samples:,} samples)"
    return _check(cid, ok, msg, measured, limit, "ms", samples=result.samples)


def _check(cid: str, ok: bool, message: str, measured: float, limit: float, unit: str, **extra: Any) -> CheckResult:
    return CheckResult(
        id=cid,
        status="passed" if ok else "failed",
        kind=None if ok else "assertion",
        message=message,
        details={"measured": measured, "limit": limit, "unit": unit, **extra},
    )


def _fail(cid: str, kind: str, message: str, measured: float | None, limit: float) -> CheckResult:
    return CheckResult(
        id=cid,
        status="failed",
        kind=kind,  # type: ignore[arg-type]
        message=message,
        details={"measured": measured, "limit": limit},
    )


def _no_data(started: float, message: str) -> StageResult:
    check = CheckResult(id="load.executed", status="failed", kind="no-data", message=message)
    return StageResult.from_checks(STAGE, [check], time.monotonic() - started, message=message)


def _label(key: str) -> str:
    return {"error_rate": "error rate", "min_rps": "throughput"}.get(key, key.upper())


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f} %".replace(".00 %", " %")


def _top_error(result: LoadRunResult) -> str:
    if not result.errors:
        return "no error recorded"
    err, count = max(result.errors.items(), key=lambda kv: kv[1])
    return f"{err} ×{count:,}"


def _headline(r: LoadRunResult) -> str:
    if not r.requests:
        return "no requests sent"
    parts = [f"{r.requests:,} requests", f"{r.rps:,.1f} req/s"]
    if r.p95_ms is not None:
        parts.append(f"P50 {r.p50_ms:.1f} ms · P95 {r.p95_ms:.1f} ms · P99 {r.p99_ms:.1f} ms")
    parts.append(f"errors {_pct(r.error_rate or 0.0)}")
    return " · ".join(parts)
