"""The sandbox behind LocalProfiler: every structured failure of the worker process.

What LocalProfiler shares with RemoteProfiler (schema, model errors, measure_many) is in test_profilers.py."""

from __future__ import annotations

import dataclasses
import time

import pytest

from edge_profiler import sandbox
from edge_profiler.errors import ProfilerError
from edge_profiler.params import MeasureParams
from edge_profiler.sandbox import SandboxLimits, run_in_subprocess
from tests.edge_profiler.conftest import FAST


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
