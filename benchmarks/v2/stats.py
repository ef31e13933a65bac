"""Statistics of benchmark v2 (``docs/benchmark_v2_protocol.md``, sections 4 and 5).

- Latency: per-round paired ratios of two models measured in the same interleaved rounds; the
  statistic is the median ratio, its interval a percentile bootstrap over rounds (Efron &
  Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13).
- Accuracy: the mean over seeds with a Student-t interval, and the difference of two models' means
  with Welch's interval (Welch, Biometrika 34, 1947) - seeds of two architectures are not pairs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval at ``confidence``."""

    estimate: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def _finite_array(name: str, values: Sequence[float], minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size < minimum:
        raise ValueError(f"{name}: need at least {minimum} values in a flat list, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: values must be finite")
    return array


def paired_latency_ratio(
    latency_ms_a: Sequence[float],
    latency_ms_b: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Median over rounds of ``a[r] / b[r]`` with a percentile-bootstrap interval over rounds.

    ``latency_ms_a[r]`` and ``latency_ms_b[r]`` are the two models' p50 in the same round ``r``, so a
    burst of load that hits one round hits both. A ratio below 1 means ``a`` is faster.
    """
    a = _finite_array("latency_ms_a", latency_ms_a, 2)
    b = _finite_array("latency_ms_b", latency_ms_b, 2)
    if a.size != b.size:
        raise ValueError(f"paired rounds differ in number: {a.size} != {b.size}")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("latencies must be positive")
    ratios = a / b
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, ratios.size, size=(resamples, ratios.size))
    medians = np.median(ratios[picks], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return Interval(float(np.median(ratios)), float(low), float(high), confidence)


def mean_interval(values: Sequence[float], *, confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` (e.g. one accuracy per seed) with a Student-t interval."""
    x = _finite_array("values", values, 2)
    half = scipy_stats.t.ppf(0.5 + confidence / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    mean = float(x.mean())
    return Interval(mean, mean - float(half), mean + float(half), confidence)


def welch_difference(
    values_a: Sequence[float], values_b: Sequence[float], *, confidence: float = CONFIDENCE
) -> Interval:
    """``mean(a) - mean(b)`` with Welch's t interval (unequal variances, unpaired samples)."""
    a = _finite_array("values_a", values_a, 2)
    b = _finite_array("values_b", values_b, 2)
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    difference = float(a.mean() - b.mean())
    standard_error = math.sqrt(var_a + var_b)
    if standard_error == 0.0:
        return Interval(difference, difference, difference, confidence)
    dof = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, dof)) * standard_error
    return Interval(difference, difference - half, difference + half, confidence)


__all__ = ["Interval", "mean_interval", "paired_latency_ratio", "welch_difference"]
