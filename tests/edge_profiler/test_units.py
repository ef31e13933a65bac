"""Pure-Python pieces: statistics, parameters, errors, the flatbuffer pre-check."""

from __future__ import annotations

import statistics

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


def test_latency_stats_fields_and_definitions() -> None:
    times = [3.0, 1.0, 2.0, 10.0]
    stats = latency_stats(times)
    assert tuple(stats) == STAT_FIELDS
    assert stats["p5"] == pytest.approx(1.15)
    assert stats["count"] == 4 and stats["min"] == 1.0 and stats["max"] == 10.0
    assert stats["mean"] == 4.0
    assert stats["std"] == pytest.approx(statistics.stdev(times))  # sample std, as the LiteRT tool
    assert stats["p50"] == 2.5
    assert latency_stats([7.0])["std"] == 0.0
    with pytest.raises(ValueError):
        latency_stats([])


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
    with pytest.raises(ValueError):
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
