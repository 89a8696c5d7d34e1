"""Comparison with the previous release: canary analysis from the outside.

Every gate run is recorded (verdict, per-check results, raw latency samples per request name) in the store
(SQLite, or PostgreSQL shared by every runner). The next run compares itself with a baseline (the last passing
run of the same profile and target, or a previous run's reports: a folder, an archive or a URL of one) and adds
a `baseline` stage whose checks fail on regressions.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from synthgate.baseline_source import NoPreviousRun, reports_folder
from synthgate.profile import ProfileError
from synthgate.profile.model import BaselineConfig, Profile
from synthgate.results import BaselineComparison, BaselineMetric, CheckResult, StageResult, Verdict
from synthgate.store import Store, resolve_db


class HistoryOptions(Protocol):
    """What the comparison needs from the gate's options (the gate's GateOptions has these)."""

    baseline: str | None
    history_db: Any  # a SQLite path or a postgresql:// URL (None: SYNTHGATE_DB, else the default file)
    reports_dir: Path
    stages: list[str]  # the stages this run runs: a baseline must have run each of them the profile declares

SAMPLES_FILE = Path("load") / "samples.json"
MAX_TEST_SAMPLES = 3000  # Mann-Whitney on more adds nothing but time
MAX_SHIFT_SAMPLES = 1000  # the Hodges-Lehmann shift takes all pairwise differences: 1M at most


@dataclass
class MetricDecision:
    """One compared latency or error-rate metric."""

    name: str
    kind: Literal["latency", "error_rate"]
    before: dict[str, int | float]
    after: dict[str, int | float]
    change: str
    statistic: float | None
    p_value: float | None
    regressed: bool
    reason: str

    def metric(self) -> BaselineMetric:
        """This decision as verdict.json's `baseline.metrics` entry."""
        return BaselineMetric(name=self.name, kind=self.kind, before=self.before, after=self.after,
                              change=self.change, statistic=self.statistic, p_value=self.p_value,
                              decision="regression" if self.regressed else "no regression", reason=self.reason)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (a baseline check's details, a rollout step's comparisons)."""
        return self.metric().model_dump(mode="json")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _thin(values: list[float], limit: int, seed: int) -> list[float]:
    if len(values) <= limit:
        return values
    return random.Random(seed).sample(values, limit)


def location_shift(before: list[float], after: list[float]) -> float:
    """Hodges-Lehmann estimate of how much later `after` is: the median of all pairwise differences.

    It is the shift the Mann-Whitney test is about, and unlike a percentile difference it does not move when a
    few samples of one run hit a hiccup of the (shared, noisy) machine.
    """
    import numpy as np

    a = np.asarray(_thin(after, MAX_SHIFT_SAMPLES, 3))
    b = np.asarray(_thin(before, MAX_SHIFT_SAMPLES, 4))
    return float(np.median(np.subtract.outer(a, b)))


def compare_latency(name: str, before: list[float], after: list[float], cfg: BaselineConfig) -> MetricDecision:
    """Regression when P50 or P95 rose by more than max_regression, Mann-Whitney finds the shift significant
    at the configured confidence, and the shift (Hodges-Lehmann) exceeds min_effect_ms."""
    from scipy.stats import mannwhitneyu

    b50, b95 = percentile(before, 50), percentile(before, 95)
    a50, a95 = percentile(after, 50), percentile(after, 95)
    summary_b = {"n": len(before), "p50_ms": round(b50, 3), "p95_ms": round(b95, 3)}
    summary_a = {"n": len(after), "p50_ms": round(a50, 3), "p95_ms": round(a95, 3)}
    if min(len(before), len(after)) < cfg.min_samples:
        return MetricDecision(name, "latency", summary_b, summary_a, "n/a", None, None, False,
                              f"too few samples to compare (need {cfg.min_samples} a side)")
    test = mannwhitneyu(_thin(after, MAX_TEST_SAMPLES, 1), _thin(before, MAX_TEST_SAMPLES, 2),
                        alternative="greater")
    p_value = float(test.pvalue)
    rises = {"P50": (b50, a50), "P95": (b95, a95)}
    rel = {k: (a - b) / b if b > 0 else (math.inf if a > b else 0.0) for k, (b, a) in rises.items()}
    shift = location_shift(before, after)
    change = ", ".join(f"{k} {b:.1f}->{a:.1f} ms ({rel[k] * 100:+.0f} %)" for k, (b, a) in rises.items())
    change += f", shift {shift:+.1f} ms"
    alpha = 1 - cfg.confidence
    hits = [k for k in rises if rel[k] > cfg.max_regression]
    regressed = bool(hits) and p_value < alpha and shift >= cfg.min_effect_ms
    if regressed:
        reason = (f"{' and '.join(hits)} rose more than {cfg.max_regression * 100:.0f} %, the shift of "
                  f"{shift:.1f} ms exceeds {cfg.min_effect_ms:g} ms; Mann-Whitney p={p_value:.2g} < {alpha:.2g}")
    elif not hits:
        reason = f"neither P50 nor P95 rose more than {cfg.max_regression * 100:.0f} %"
    elif shift < cfg.min_effect_ms:
        reason = f"shift of {shift:.1f} ms is below the {cfg.min_effect_ms:g} ms floor"
    else:
        reason = f"rise not significant (Mann-Whitney p={p_value:.2g} >= {alpha:.2g})"
    return MetricDecision(name, "latency", summary_b, summary_a, change, round(float(test.statistic), 1),
                          p_value, regressed, reason)


def compare_error_rate(name: str, before: tuple[int, int], after: tuple[int, int],
                       cfg: BaselineConfig) -> MetricDecision:
    """Two-proportion z-test (one-sided): the error rate rose significantly and by more than the floor."""
    from scipy.stats import norm

    (fb, nb), (fa, na) = before, after
    rb = fb / nb if nb else 0.0
    ra = fa / na if na else 0.0
    summary_b = {"requests": nb, "errors": fb, "error_rate": round(rb, 5)}
    summary_a = {"requests": na, "errors": fa, "error_rate": round(ra, 5)}
    change = f"{rb * 100:.2f} % -> {ra * 100:.2f} %"
    if not nb or not na:
        return MetricDecision(name, "error_rate", summary_b, summary_a, change, None, None, False,
                              "no requests on one side")
    pooled = (fb + fa) / (nb + na)
    se = math.sqrt(pooled * (1 - pooled) * (1 / nb + 1 / na))
    z = (ra - rb) / se if se > 0 else 0.0
    p_value = float(norm.sf(z))
    alpha = 1 - cfg.confidence
    regressed = ra - rb > cfg.min_error_increase and p_value < alpha
    reason = (f"error rate rose by {(ra - rb) * 100:.2f} points; z={z:.2f}, p={p_value:.2g}" if regressed
              else f"no significant rise above {cfg.min_error_increase * 100:.1f} points (p={p_value:.2g})")
    return MetricDecision(name, "error_rate", summary_b, summary_a, change, round(z, 3), p_value, regressed,
                          reason)


# -- history -----------------------------------------------------------------------------------------------------


def _store(opts: HistoryOptions) -> Store:
    return Store(resolve_db(opts.history_db))


def run_samples(verdict: Verdict) -> dict[str, list[float]]:
    """Raw latency samples per request name of this run's load stage (kept in memory by the gate)."""
    for stage in verdict.stages:
        if stage.name == "load":
            return dict(stage.samples_ms)
    return {}


def run_errors(verdict: Verdict) -> dict[str, tuple[int, int]]:
    """(failures, requests) per request name of the load stage."""
    if verdict.load is None:
        return {}
    return {name: (row.failures, row.requests) for name, row in verdict.load.per_request.items()}


def _decode(encoding: str, blob: bytes) -> list[float]:
    if encoding not in ("json-ms", ""):
        raise ValueError(f"unknown sample encoding {encoding!r}")
    return [float(v) for v in json.loads(blob)]


def _saved_run(source: str, progress: Callable[[str], None]) -> tuple[Verdict, dict, str] | None:
    """A previous run's verdict and samples from its reports (folder, archive or URL); None if a URL has none yet."""
    try:
        with reports_folder(source) as folder:
            return _read_saved(folder, source)
    except NoPreviousRun as exc:
        progress(f"baseline: {exc}; nothing to compare with (the first run?)")
        return None


def _read_saved(folder: Path, source: str) -> tuple[Verdict, dict, str]:
    try:
        saved = Verdict.load_file(folder / "verdict.json")
        samples_path = folder / SAMPLES_FILE
        samples = json.loads(samples_path.read_text()) if samples_path.exists() else {}
    except (OSError, ValueError) as exc:
        raise ProfileError(f"--baseline {source}: verdict.json is not a synthgate verdict: {exc}") from None
    return saved, samples.get("samples_ms", {}), f"saved run {source}"


def _load_baseline(opts: HistoryOptions, profile: Profile, target: str,
                   progress: Callable[[str], None]) -> tuple[Verdict, dict, str] | None:
    """The baseline verdict and its samples: from --baseline (reports of a run), or the last passing run stored."""
    choice = opts.baseline or "last-pass"
    if choice == "none":
        return None
    if choice != "last-pass":
        return _saved_run(choice, progress)
    with _store(opts) as store:
        found = _last_complete_pass(store, profile.name, target, _needed(opts, profile))
        if found is None:
            return None
        run_id, base = found
        samples = {name: _decode(enc, blob) for name, (enc, blob) in store.run_samples(run_id).items()}
        return base, samples, f"last passing run #{run_id}"


LOOK_BACK = 50  # passing runs looked through for the newest complete one


def declared_stages(profile: Profile) -> list[str]:
    """The stages the profile gives something to run (smoke always: its readiness checks need nothing declared)."""
    has = {"smoke": True, "e2e": bool(profile.journeys), "fuzz": profile.fuzz is not None,
           "load": profile.load is not None}
    return [s for s in ("smoke", "e2e", "fuzz", "load") if has[s]]


def _needed(opts: HistoryOptions, profile: Profile) -> set[str]:
    """The declared stages this run runs: its baseline must have run every one of them."""
    return set(declared_stages(profile)) & set(opts.stages)


def _last_complete_pass(store: Store, profile: str, target: str | None,
                        needed: set[str]) -> tuple[int, Verdict] | None:
    """The newest passing run that ran every stage in `needed`: a partial --stages run is never the baseline of a
    fuller one (a run of every declared stage, `complete`, is the baseline of any)."""
    for row in store.runs(profile, verdict="pass", target=target, limit=LOOK_BACK):
        saved = Verdict.model_validate_json(row["verdict_json"])
        if saved.complete or (saved.ran is not None and needed <= set(saved.ran)):
            return int(row["id"]), saved
    return None


def previous_release(opts: HistoryOptions, profile: Profile, target: str,
                     progress: Callable[[str], None]) -> tuple[Verdict, str] | None:
    """The run `new_only` findings are compared with: --baseline's saved run, else the last complete passing run
    of this profile on this target, else on any target (a deploy's URL may change with each release)."""
    choice = opts.baseline or "last-pass"
    if choice == "none":
        return None
    if choice != "last-pass":
        saved = _saved_run(choice, progress)
        return None if saved is None else (saved[0], saved[2])
    with _store(opts) as store:
        needed = _needed(opts, profile)
        found = (_last_complete_pass(store, profile.name, target, needed)
                 or _last_complete_pass(store, profile.name, None, needed))
    if found is None:
        return None
    run_id, base = found
    where = "" if base.base_url == target else f" at {base.base_url}"
    return base, f"last passing run #{run_id}{where}" + (f", release {base.release}" if base.release else "")


def release_label(release: str | None, source: str) -> str:
    """How the console and reports name a compared run: its release when known, never "release None"."""
    return f"release {release} ({source})" if release else source


def compare(verdict: Verdict, profile: Profile, opts: HistoryOptions, progress: Callable[[str], None],
            target: str) -> None:
    """Compare this run with its baseline (`target`: the deployment's history key); adds the `baseline` block
    and a `baseline` stage of checks."""
    cfg = profile.baseline
    if not cfg.enabled:
        return
    found = _load_baseline(opts, profile, target, progress)
    if found is None:
        return
    base, base_samples, source = found
    progress(f"baseline: comparing with {release_label(base.release, source)}")
    decisions: list[MetricDecision] = []
    samples = run_samples(verdict)
    for name in sorted(set(samples) & set(base_samples)):
        decisions.append(compare_latency(name, base_samples[name], samples[name], cfg))
    errors, base_errors = run_errors(verdict), run_errors(base)
    for name in sorted(set(errors) & set(base_errors)):
        decisions.append(compare_error_rate(name, base_errors[name], errors[name], cfg))
    before = {(s, c.id): c.status for s, c in base.all_checks()}
    regressions, pre_existing = [], []
    for stage, check in verdict.failed_checks():
        was = before.get((stage, check.id))
        (pre_existing if was == "failed" else regressions).append(f"{stage}/{check.id}")
    checks = [CheckResult(id=f"latency:{d.name}" if d.kind == "latency" else f"error-rate:{d.name}",
                          status="failed" if d.regressed else "passed", kind="regression" if d.regressed else None,
                          message=f"{d.change}: {d.reason}", details=d.as_dict()) for d in decisions]
    changed = [d for d in decisions if d.regressed]
    if changed:
        summary = (f"{len(changed)} metric(s) regressed against {release_label(base.release, source)}: "
                   + "; ".join(f"{d.name} {d.change}" for d in changed))
        absolute_ok = all(c.status != "failed" for s, c in verdict.all_checks() if s != "baseline")
        if absolute_ok:
            summary += ". Every absolute threshold passed: the gate fails on the comparison alone."
    elif decisions:
        summary = f"no metric regressed against {release_label(base.release, source)} ({len(decisions)} compared)"
    else:
        summary = "no metric could be compared (no shared load samples)"
    verdict.baseline = BaselineComparison(
        release=base.release, source=source, started_at=base.started_at, metrics=[d.metric() for d in decisions],
        regressions=regressions, pre_existing=pre_existing, summary=summary, config=cfg.model_dump(mode="json"))
    if checks:
        verdict.stages.append(StageResult.from_checks("baseline", checks, 0.0))
    progress(f"baseline: {summary}")


def record(verdict: Verdict, profile: Profile, opts: HistoryOptions, target: str) -> None:
    """Store this run (verdict and raw samples) in the run history under the deployment's key `target`."""
    samples = run_samples(verdict)
    with _store(opts) as store:
        store.add_run(profile.name, target, verdict.release, verdict.verdict,
                      verdict.started_at, str(opts.reports_dir.resolve()), verdict.model_dump_json(),
                      samples={name: json.dumps(values) for name, values in samples.items()}, encoding="json-ms")
