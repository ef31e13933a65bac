"""The shared suite both profilers run: :class:`LocalProfiler` and :class:`RemoteProfiler` against a
real agent on loopback. As Optuna's shared sampler tests, each case is written once and runs on
every profiler: the result schema of docs/interfaces.md, errors as ``ProfilerError`` kinds, and
``measure_many``. What only one of them does (the sandbox's crash handling, the agent's cache, HTTP,
retries over several agents) stays in test_local.py / test_agent.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_profiler.client import LocalProfiler, Profiler, RemoteProfiler
from edge_profiler.errors import MODEL_KINDS, ProfilerError
from tests.edge_profiler.conftest import FAST, start_agent

# docs/interfaces.md: the result schema, then the extensions present on every fresh result.
SCHEMA_KEYS = {"latency_ms", "init_ms", "first_inference_ms", "peak_memory_mb", "model_sha256", "model_size_bytes",
               "runtime", "params", "device", "throttled", "cached", "measured_by"}
EXTENSION_KEYS = {"warmup_ms", "memory_delta_mb", "timed_seconds", "inputs", "attempts", "started_at",
                  "finished_at", "subprocess_ms"}
LATENCY_KEYS = {"count", "mean", "std", "min", "p5", "p50", "p90", "p95", "max"}
MEMORY_LIMIT_MB = 1024


@dataclass
class ProfilerUnderTest:
    """A profiler and the ``measured_by`` its results carry."""

    profiler: Profiler
    measured_by: str


@pytest.fixture(params=["local", "remote"])
def under_test(request: pytest.FixtureRequest) -> Iterator[ProfilerUnderTest]:
    if request.param == "local":
        yield ProfilerUnderTest(LocalProfiler(memory_limit_mb=MEMORY_LIMIT_MB), "local")
        return
    agent = start_agent(memory_limit_mb=MEMORY_LIMIT_MB)
    try:
        yield ProfilerUnderTest(RemoteProfiler([agent.url], retries=0), agent.url)
    finally:
        agent.shutdown()


def test_result_schema(under_test: ProfilerUnderTest, tiny_model_path: Path, tiny_model: bytes) -> None:
    result = under_test.profiler.measure(tiny_model_path, threads=2, warmup_runs=2, runs=30, min_seconds=0.2)
    assert SCHEMA_KEYS | EXTENSION_KEYS <= set(result)
    latency = result["latency_ms"]
    assert LATENCY_KEYS <= set(latency) and latency["count"] >= 30
    assert result["timed_seconds"] >= 0.2  # runs until both the count and the duration are reached
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert result["init_ms"] > 0 and result["first_inference_ms"] > 0 and result["peak_memory_mb"] > 10
    assert result["warmup_ms"]["count"] == 2
    assert result["model_sha256"] == hashlib.sha256(tiny_model).hexdigest()
    assert result["model_size_bytes"] == len(tiny_model)
    assert result["runtime"]["name"] == "ai_edge_litert" and result["runtime"]["version"]
    assert result["params"] == {"threads": 2, "warmup_runs": 2, "runs": 30, "min_seconds": 0.2, "use_xnnpack": True}
    assert result["inputs"] == [{"name": result["inputs"][0]["name"], "shape": [1, 32, 32, 3], "dtype": "int8"}]
    assert result["measured_by"] == under_test.measured_by
    assert result["cached"] is False and isinstance(result["throttled"], bool) and result["attempts"] >= 1
    assert result["started_at"] <= result["finished_at"]
    assert json.loads(json.dumps(result)) == result  # plain JSON, as an agent sends it


def test_bytes_and_path_are_the_same_model(under_test: ProfilerUnderTest, tiny_model_path: Path,
                                           tiny_model: bytes) -> None:
    by_path = under_test.profiler.measure(tiny_model_path, **FAST)
    by_bytes = under_test.profiler.measure(bytearray(tiny_model), runs=6, warmup_runs=0, min_seconds=0.0)
    assert by_path["model_sha256"] == by_bytes["model_sha256"]
    assert by_bytes["latency_ms"]["count"] == 6 and by_bytes["warmup_ms"]["count"] == 0


def test_xnnpack_off(under_test: ProfilerUnderTest, tiny_model: bytes) -> None:
    result = under_test.profiler.measure(tiny_model, use_xnnpack=False, **FAST)
    assert result["params"]["use_xnnpack"] is False and result["latency_ms"]["count"] == 5


@pytest.mark.parametrize("family", ["garbage", "truncated", "header only"])
def test_a_malformed_model_is_rejected(under_test: ProfilerUnderTest, tiny_model: bytes, family: str) -> None:
    data = {"garbage": b"definitely not a flatbuffer", "truncated": tiny_model[: len(tiny_model) // 3],
            "header only": tiny_model[:8]}[family]
    with pytest.raises(ProfilerError) as info:
        under_test.profiler.measure(data, **FAST)
    assert info.value.kind == "rejected" and info.value.is_model_error and info.value.message


def test_a_model_over_the_memory_limit_is_out_of_memory(under_test: ProfilerUnderTest, huge_model: bytes) -> None:
    with pytest.raises(ProfilerError) as info:
        under_test.profiler.measure(huge_model, **FAST)
    assert info.value.kind == "out_of_memory" and info.value.kind in MODEL_KINDS
    assert f"{MEMORY_LIMIT_MB} MB" in info.value.message


@pytest.mark.parametrize("params", [{"threads": 0}, {"runs": 0}, {"min_seconds": -1.0}, {"warmup_runs": 1.5}])
def test_bad_parameters_are_a_bad_request(under_test: ProfilerUnderTest, tiny_model: bytes,
                                          params: dict[str, float]) -> None:
    with pytest.raises(ProfilerError) as info:
        under_test.profiler.measure(tiny_model, **{**FAST, **params})
    assert info.value.kind == "bad_request" and not info.value.is_model_error


def test_a_missing_file_is_not_a_profiler_error(under_test: ProfilerUnderTest, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.tflite"):
        under_test.profiler.measure(tmp_path / "nope.tflite")


def test_measure_many_keeps_order_and_returns_errors_in_place(under_test: ProfilerUnderTest, tiny_model: bytes,
                                                              tiny_model_path: Path) -> None:
    results = under_test.profiler.measure_many([tiny_model, b"not a model", tiny_model_path], max_workers=2, **FAST)
    assert len(results) == 3
    assert isinstance(results[1], ProfilerError) and results[1].kind == "rejected"
    for result in (results[0], results[2]):
        assert isinstance(result, dict) and result["latency_ms"]["count"] == 5
        assert result["measured_by"] == under_test.measured_by
    assert under_test.profiler.measure_many([], **FAST) == []
