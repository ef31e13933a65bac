"""Latency statistics with the definitions of LiteRT's ``benchmark_litert_model.py``.

Percentiles interpolate linearly between order statistics (rank ``(n - 1) * p / 100``) and ``std``
is the sample standard deviation (``statistics.stdev``), so the two tools' numbers compare directly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

STAT_FIELDS = ("count", "mean", "std", "min", "p5", "p50", "p90", "p95", "max")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    rank = (len(sorted_values) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (rank - low) * (sorted_values[high] - sorted_values[low])


def latency_stats(times_ms: Sequence[float]) -> dict[str, float]:
    """``{count, mean, std, min, p5, p50, p90, p95, max}`` of per-run latencies in milliseconds
    (``p5`` is there because ``benchmark_litert_model.py`` reports it)."""
    if not times_ms:
        raise ValueError("no timed runs")
    ordered = sorted(float(t) for t in times_ms)
    return {
        "count": len(ordered),
        "mean": statistics.fmean(ordered),
        "std": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "min": ordered[0],
        "p5": percentile(ordered, 5),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p95": percentile(ordered, 95),
        "max": ordered[-1],
    }
