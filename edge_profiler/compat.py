"""Our result in the layout of LiteRT's ``benchmark_litert_model.py --result_json``.

The agent measures what that tool measures: random inputs, warm-up runs, then timed runs, with
the same median/percentile/std definitions (see :mod:`edge_profiler.stats`). This module renames
the fields so both JSON files can be compared key by key::

    ours                      benchmark_litert_model.py
    init_ms                   latency.init_ms
    first_inference_ms        latency.warmup_first_ms
    warmup_ms.mean / .count   latency.warmup_avg_ms / num_warmup_runs
    latency_ms.mean           latency.avg_ms
    latency_ms.min / max      latency.min_ms / max_ms
    latency_ms.p50            latency.median_ms
    latency_ms.std            latency.std_ms (sample standard deviation)
    latency_ms.p5 / p95       latency.p5_ms / p95_ms
    latency_ms.count          latency.num_runs
    params.threads            num_threads
    model_size_bytes          model_size_mb (bytes / 2**20)
"""

from __future__ import annotations

from typing import Any


def to_benchmark_litert_json(result: dict[str, Any], *, model: str = "") -> dict[str, Any]:
    """Rename a result's fields to those of ``benchmark_litert_model.py --result_json``
    (values unrounded; the tool rounds to 0.01)."""
    latency = result["latency_ms"]
    warmup = result.get("warmup_ms") or {}
    return {
        "model": model,
        "model_size_mb": result["model_size_bytes"] / 2**20,
        "accelerators": ["CPU"],
        "num_threads": result["params"]["threads"],
        "latency": {
            "init_ms": result["init_ms"],
            "warmup_first_ms": result["first_inference_ms"] if warmup.get("count") else 0.0,
            "warmup_avg_ms": warmup.get("mean") or 0.0,
            "num_warmup_runs": warmup.get("count", 0),
            "avg_ms": latency["mean"],
            "min_ms": latency["min"],
            "max_ms": latency["max"],
            "median_ms": latency["p50"],
            "std_ms": latency["std"],
            "p5_ms": latency["p5"],
            "p95_ms": latency["p95"],
            "num_runs": latency["count"],
        },
    }
