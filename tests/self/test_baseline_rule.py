"""The baseline decision rule on synthetic samples: false alarms bounded by the confidence, real shifts found."""

from __future__ import annotations

import random

from synthgate.baseline import compare_error_rate, compare_latency, percentile
from synthgate.profile.model import BaselineConfig


def lognormal(rng: random.Random, median_ms: float, n: int, sigma: float = 0.5) -> list[float]:
    import math

    return [math.exp(rng.gauss(math.log(median_ms), sigma)) for _ in range(n)]


def test_false_alarm_rate_on_identical_distributions_is_at_most_the_configured_one() -> None:
    # isolate the statistical test: any rise counts, no absolute floor
    cfg = BaselineConfig(max_regression=1e-9, min_effect_ms=0.0, confidence=0.99)
    rng = random.Random(20261125)
    trials = 400
    alarms = sum(
        compare_latency("GET /", lognormal(rng, 20, 200), lognormal(rng, 20, 200), cfg).regressed
        for _ in range(trials)
    )
    assert alarms / trials <= 0.01 + 0.01, alarms  # 1 % configured, plus sampling slack of one s.d. x 2


def test_default_rule_raises_no_alarm_on_identical_distributions() -> None:
    cfg = BaselineConfig()
    rng = random.Random(7)
    assert not any(compare_latency("x", lognormal(rng, 3, 500), lognormal(rng, 3, 500), cfg).regressed
                   for _ in range(200))


def test_forty_percent_median_shift_is_found_with_200_samples_a_side() -> None:
    cfg = BaselineConfig()
    rng = random.Random(11)
    found = [compare_latency("x", lognormal(rng, 100, 200), lognormal(rng, 140, 200), cfg) for _ in range(100)]
    power = sum(d.regressed for d in found) / len(found)
    assert power >= 0.95, [d.reason for d in found if not d.regressed]  # sample medians are noisy too
    assert "P50" in next(d for d in found if d.regressed).reason


def test_sub_floor_shift_on_a_fast_endpoint_is_not_a_regression() -> None:
    # 1 ms -> 1.5 ms is +50 % and highly significant, but below the 5 ms floor: jitter, not a regression
    cfg = BaselineConfig()
    rng = random.Random(3)
    d = compare_latency("x", lognormal(rng, 1.0, 3000, 0.2), lognormal(rng, 1.5, 3000, 0.2), cfg)
    assert d.p_value is not None and d.p_value < 1e-6
    assert not d.regressed and "5 ms" in d.reason


def test_too_few_samples_is_said_not_decided() -> None:
    d = compare_latency("x", [1.0] * 10, [50.0] * 10, BaselineConfig())
    assert not d.regressed and "too few samples" in d.reason


def test_error_rate_rise_is_found_and_noise_is_not() -> None:
    cfg = BaselineConfig()
    assert compare_error_rate("x", (0, 2000), (100, 2000), cfg).regressed  # 0 % -> 5 %
    assert not compare_error_rate("x", (2, 2000), (4, 2000), cfg).regressed  # 0.1 % -> 0.2 %


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95
