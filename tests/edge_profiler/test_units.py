"""Pure-Python pieces: statistics, parameters, errors, the flatbuffer pre-check."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import numpy as np
import pytest

from edge_profiler.errors import ProfilerError
from edge_profiler.modelcheck import check_tflite
from edge_profiler.params import MeasureParams
from edge_profiler.stats import STAT_FIELDS, latency_stats, percentile


def test_percentiles_match_numpy_linear_interpolation(rng: np.random.Generator) -> None:
    values = sorted(rng.exponential(3.0, 101).tolist())
    for p in (0, 5, 50, 90, 95, 100):
        assert percentile(values, p) == pytest.approx(np.percentile(values, p))


def _litert_benchmark_tool():
    """``benchmark_litert_model.py`` as shipped in the ai-edge-litert wheel, loaded from its file."""
    spec = importlib.util.find_spec("ai_edge_litert")
    assert spec is not None and spec.origin, "ai-edge-litert is a dependency of edge_profiler"
    path = Path(spec.origin).parent / "tools" / "benchmark_litert_model.py"
    assert path.is_file(), f"the LiteRT wheel no longer ships {path}"
    module_spec = importlib.util.spec_from_file_location("benchmark_litert_model", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_stats_match_the_litert_benchmark_tool_on_random_samples(rng: np.random.Generator) -> None:
    """p5 / p50 / p90 / p95 against the tool's own ``percentile``, std against its ``statistics.stdev``,
    on 200 random samples of 2 to 30 latencies (2 values: std is the sample std, |a - b| / sqrt(2))."""
    tool = _litert_benchmark_tool()
    sizes = [2, 2, 3, 30, *rng.integers(2, 31, 196).tolist()]
    for size in sizes:
        times = rng.lognormal(0.0, 0.8, size).tolist()
        ordered = sorted(times)
        stats = latency_stats(times)
        for name, p in (("p5", 5), ("p50", 50), ("p90", 90), ("p95", 95)):
            assert stats[name] == pytest.approx(tool.percentile(ordered, p), rel=1e-12), (name, size)
        assert stats["std"] == pytest.approx(statistics.stdev(times), rel=1e-12)
        assert stats["mean"] == pytest.approx(statistics.mean(times), rel=1e-12)
        assert (stats["min"], stats["max"], stats["count"]) == (min(times), max(times), size)
    two = latency_stats([1.0, 4.0])
    assert two["std"] == pytest.approx(3.0 / 2**0.5) and two["p90"] == pytest.approx(3.7)
    assert two["p95"] == pytest.approx(3.85) and two["p5"] == pytest.approx(1.15)
    assert tool.percentile([1.0, 4.0], 90) == pytest.approx(3.7)


def test_latency_stats_fields_and_definitions() -> None:
    times = [3.0, 1.0, 2.0, 10.0]
    stats = latency_stats(times)
    assert tuple(stats) == STAT_FIELDS
    assert stats["p5"] == pytest.approx(1.15)
    assert stats["count"] == 4 and stats["min"] == 1.0 and stats["max"] == 10.0
    assert stats["mean"] == 4.0
    assert stats["std"] == pytest.approx(statistics.stdev(times))  # sample std, as the LiteRT tool
    assert stats["p50"] == 2.5
    assert stats["p90"] == pytest.approx(7.9) and stats["p95"] == pytest.approx(8.95)
    assert percentile([1.0, 2.0, 4.0], 100) == 4.0 and percentile([1.0, 2.0, 4.0], 0) == 1.0
    assert latency_stats([7.0])["std"] == 0.0
    with pytest.raises(ValueError, match="^no timed runs$"):
        latency_stats([])
    with pytest.raises(ValueError, match="^percentile of an empty sequence$"):
        percentile([], 50)


def test_params_validation_names_the_problem() -> None:
    assert MeasureParams().to_json() == {"threads": 1, "warmup_runs": 5, "runs": 50, "min_seconds": 1.0,
                                         "use_xnnpack": True}
    for bad in ({"threads": 0}, {"runs": 0}, {"min_seconds": -1.0}, {"threads": 1.5}, {"use_xnnpack": "yes"},
                {"warmup_runs": True}):
        with pytest.raises(ProfilerError) as info:
            MeasureParams(**bad)
        assert info.value.kind == "bad_request"
        assert next(iter(bad)) in str(info.value)


def test_params_query_round_trip() -> None:
    params = MeasureParams(threads=4, warmup_runs=0, runs=7, min_seconds=0.25, use_xnnpack=False)
    assert MeasureParams.from_query(params.to_query()) == params
    with pytest.raises(ProfilerError, match="unknown measurement parameter 'model_path'"):
        MeasureParams.from_query({"model_path": "/etc/passwd"})
    with pytest.raises(ProfilerError, match="threads"):
        MeasureParams.from_query({"threads": "many"})
    with pytest.raises(ProfilerError, match="use_xnnpack"):
        MeasureParams.from_query({"use_xnnpack": "maybe"})


def test_error_json_round_trip() -> None:
    error = ProfilerError("crashed", "boom", detail={"signal": "SIGSEGV"})
    again = ProfilerError.from_json(error.to_json())
    assert (again.kind, again.message, again.detail) == ("crashed", "boom", {"signal": "SIGSEGV"})
    assert again.is_model_error
    assert ProfilerError.from_json({"error": {"kind": "weird", "message": "x"}}).kind == "internal"
    with pytest.raises(ValueError, match="^unknown ProfilerError kind 'nonsense'; expected one of .*'bad_request'"):
        ProfilerError("nonsense", "x")


def test_modelcheck_accepts_the_model_and_rejects_truncations(tiny_model: bytes) -> None:
    check_tflite(tiny_model)
    rejected = 0
    for cut in range(0, len(tiny_model), 7):
        try:
            check_tflite(tiny_model[:cut])
        except ProfilerError as exc:
            assert exc.kind == "rejected"
            rejected += 1
    assert rejected >= 0.9 * len(range(0, len(tiny_model), 7))
    with pytest.raises(ProfilerError, match="file identifier"):
        check_tflite(b"\x00" * 64)
    with pytest.raises(ProfilerError, match="only 3 bytes"):
        check_tflite(b"abc")
