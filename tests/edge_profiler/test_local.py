"""LocalProfiler and the sandbox: a real int8 model, and every structured failure."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import pytest

from edge_profiler import sandbox
from edge_profiler.client import LocalProfiler
from edge_profiler.errors import ProfilerError
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits, run_in_subprocess
from tests.edge_profiler.conftest import FAST

SCHEMA_KEYS = {"latency_ms", "init_ms", "first_inference_ms", "peak_memory_mb", "model_sha256", "model_size_bytes",
               "runtime", "params", "device", "throttled", "cached", "measured_by"}


def test_local_profiler_measures_a_real_int8_model(tiny_model_path: Path, tiny_model: bytes) -> None:
    result = LocalProfiler(memory_limit_mb=1024).measure(tiny_model_path, threads=2, warmup_runs=2, runs=30,
                                                         min_seconds=0.2)
    assert SCHEMA_KEYS <= set(result)
    latency = result["latency_ms"]
    assert latency["count"] >= 30
    assert result["timed_seconds"] >= 0.2  # runs until both the count and the duration are reached
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert result["init_ms"] > 0 and result["first_inference_ms"] > 0
    assert result["peak_memory_mb"] > 10
    assert result["model_sha256"] == hashlib.sha256(tiny_model).hexdigest()
    assert result["model_size_bytes"] == len(tiny_model)
    assert result["runtime"]["name"] == "ai_edge_litert"
    assert result["params"] == {"threads": 2, "warmup_runs": 2, "runs": 30, "min_seconds": 0.2, "use_xnnpack": True}
    assert result["inputs"] == [{"name": result["inputs"][0]["name"], "shape": [1, 32, 32, 3], "dtype": "int8"}]
    assert result["measured_by"] == "local" and result["cached"] is False
    assert result["started_at"] <= result["finished_at"]


def test_xnnpack_off_and_no_warmup(tiny_model: bytes) -> None:
    result = LocalProfiler(memory_limit_mb=1024).measure(tiny_model, warmup_runs=0, runs=3, min_seconds=0.0,
                                                         use_xnnpack=False)
    assert result["params"]["use_xnnpack"] is False
    assert result["latency_ms"]["count"] == 3
    assert result["warmup_ms"]["count"] == 0


def test_absurd_tensor_dimension_is_contained_by_the_memory_limit(huge_model: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(ProfilerError) as info:
        LocalProfiler(memory_limit_mb=1024).measure(huge_model, **FAST)
    assert info.value.kind == "out_of_memory"
    assert "1024 MB" in info.value.message
    assert time.monotonic() - started < 30


def test_garbage_is_rejected_without_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.subprocess, "Popen", None)  # would raise if a process were started
    with pytest.raises(ProfilerError) as info:
        run_in_subprocess(b"definitely not a flatbuffer", MeasureParams(**FAST), SandboxLimits())
    assert info.value.kind == "rejected"


@pytest.mark.parametrize("mode, kind, signal_name", [
    ("segv", "crashed", "SIGSEGV"),
    ("abort", "crashed", "SIGABRT"),
    ("exit", "crashed", None),
    ("oom", "out_of_memory", None),
])
def test_worker_deaths_become_structured_errors(tiny_model: bytes, monkeypatch: pytest.MonkeyPatch, mode: str,
                                                kind: str, signal_name: str | None) -> None:
    monkeypatch.setattr(sandbox, "WORKER_MODULE", "tests.edge_profiler.crashing_worker")
    monkeypatch.setenv("EDGE_PROFILER_TEST_CRASH", mode)
    with pytest.raises(ProfilerError) as info:
        run_in_subprocess(tiny_model, MeasureParams(**FAST), SandboxLimits())
    assert info.value.kind == kind
    if signal_name:
        assert info.value.detail["signal"] == signal_name
        assert signal_name in info.value.message


def test_hanging_worker_is_killed_at_the_wall_clock_limit(tiny_model: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "WORKER_MODULE", "tests.edge_profiler.crashing_worker")
    monkeypatch.setenv("EDGE_PROFILER_TEST_CRASH", "hang")
    started = time.monotonic()
    with pytest.raises(ProfilerError) as info:
        run_in_subprocess(tiny_model, MeasureParams(**FAST), SandboxLimits(timeout_s=1.5))
    assert info.value.kind == "timeout"
    assert 1.4 < time.monotonic() - started < 10


@dataclasses.dataclass(frozen=True)
class _UncappedLimits(SandboxLimits):
    """Lets the timed loop outlive the wall-clock limit, to exercise the real worker's timeout."""

    @property
    def max_measure_seconds(self) -> float:
        return 600.0


def test_real_worker_running_too_long_times_out(tiny_model: bytes) -> None:
    with pytest.raises(ProfilerError) as info:
        run_in_subprocess(tiny_model, MeasureParams(warmup_runs=0, runs=1, min_seconds=60.0),
                          _UncappedLimits(timeout_s=2.0))
    assert info.value.kind == "timeout"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="memory_limit_mb"):
        SandboxLimits(memory_limit_mb=64)
    with pytest.raises(FileNotFoundError, match="nope.tflite"):
        LocalProfiler().measure("nope.tflite")
