"""The cheap and the training interfaces: one JSON record per candidate, failures returned not raised."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evaluators import CheapEvaluator, ConversionError, DatasetConfig, TrainConfig, TrainingEvaluator
from evaluators.candidate import KERAS_MODEL_NAME, TFLITE_INT8_NAME

from .conftest import TINY_ARCH

FAST_PROFILE = {"runs": 3, "warmup_runs": 1, "min_seconds": 0.0}


@pytest.fixture(scope="module")
def arch() -> Any:
    from search_spaces import Architecture

    return Architecture.from_string(TINY_ARCH)


@pytest.fixture(scope="module")
def cheap(arch: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return CheapEvaluator(profile_params=FAST_PROFILE).evaluate(arch, tmp_path_factory.mktemp("cheap"))


class BrokenProfiler:
    """Stands in for a device that cannot run the model."""

    def measure(self, model: Any, **params: Any) -> dict:
        from edge_profiler.errors import ProfilerError

        raise ProfilerError("crashed", "the interpreter died")


def test_importing_evaluators_does_not_import_tensorflow() -> None:
    code = "import sys, evaluators; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cheap_evaluator_measures_size_and_latency_without_training(cheap: Any, arch: Any) -> None:
    from search_spaces import arch_cost

    assert cheap.ok, cheap.failure_reason
    path = Path(cheap.artifacts["tflite_int8_untrained"])
    assert cheap.size_bytes == path.stat().st_size > 0
    assert cheap.latency["measured_by"] == "local" and cheap.latency_ms_p50 > 0
    assert cheap.latency["params"]["runs"] >= 3
    cost = arch_cost(arch)
    assert (cheap.params, cheap.macs) == (cost.params, cost.macs)
    assert {"build", "convert", "profile", "total"} <= set(cheap.timings_s)
    record = json.loads(json.dumps(cheap.to_dict(), allow_nan=False))
    assert record["architecture"] == TINY_ARCH and record["latency_ms_p50"] == cheap.latency_ms_p50


def test_default_profiler_is_the_local_one() -> None:
    from edge_profiler.client import LocalProfiler

    assert isinstance(CheapEvaluator().profiler, LocalProfiler)


def test_profiler_error_is_a_failed_candidate(arch: Any, tmp_path: Path) -> None:
    result = CheapEvaluator(BrokenProfiler()).evaluate(arch, tmp_path)
    assert result.status == "failed" and result.failure_stage == "profile"
    assert result.profiler_error_kind == "crashed" and "interpreter died" in result.failure_reason
    assert result.size_bytes > 0  # what was measured before the failure stays in the record


def test_training_evaluator_record(arch: Any, cheap: Any, tmp_path: Path) -> None:
    evaluator = TrainingEvaluator(DatasetConfig(), TrainConfig(epochs=3, lr=1e-2, batch_size=64),
                                  profile_params=FAST_PROFILE)
    result = evaluator.evaluate(arch, tmp_path)
    assert result.ok, result.failure_reason
    assert 0.0 <= result.accuracy_int8 <= 1.0 and 0.0 <= result.keras_accuracy <= 1.0
    assert result.accuracy_gap == pytest.approx(result.keras_accuracy - result.accuracy_int8)
    assert result.metrics_int8["top5_accuracy"] is not None and len(result.metrics_int8["confusion_matrix"]) == 10
    assert result.size_bytes == (tmp_path / TFLITE_INT8_NAME).stat().st_size
    assert result.artifacts == {"tflite_int8": str(tmp_path / TFLITE_INT8_NAME),
                                "keras_model": str(tmp_path / KERAS_MODEL_NAME)}
    assert (tmp_path / KERAS_MODEL_NAME).is_file()
    assert result.latency["measured_by"] == "local" and result.latency_ms_p50 > 0
    assert {"build", "train", "convert", "evaluate", "profile", "total"} <= set(result.timings_s)
    assert result.versions["tensorflow"] and result.versions["litert"].startswith("ai_edge_litert")
    assert result.training["epochs_completed"] == 3 and result.dataset["name"] == "digits"
    record = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert record["architecture"] == TINY_ARCH and record["status"] == "complete"
    # With the cheap result, its latency is reused and no second profiling happens.
    again = evaluator.evaluate(arch, tmp_path / "again", cheap=cheap)
    assert again.latency == cheap.latency and again.timings_s["profile"] == 0.0


def test_diverging_candidate_is_failed_not_raised(arch: Any, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, optimizer="sgd", lr=1e20, warmup_epochs=0, label_smoothing=0.0, weight_decay=0.0)
    result = TrainingEvaluator(DatasetConfig(), cfg, measure_latency=False).evaluate(arch, tmp_path)
    assert result.status == "failed" and result.failure_stage == "train"
    assert result.failure_reason.startswith("diverged: loss became nan")
    assert result.training["diverged"] and result.accuracy_int8 is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_conversion_error_is_a_failed_candidate(arch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConversionError("int8 conversion failed; op not supported")

    monkeypatch.setattr("evaluators.conversion.convert", refuse)
    result = TrainingEvaluator(DatasetConfig(), TrainConfig(epochs=1), measure_latency=False).evaluate(arch, tmp_path)
    assert result.status == "failed" and result.failure_stage == "convert"
    assert "op not supported" in result.failure_reason and result.keras_accuracy is not None
    cheap = CheapEvaluator(BrokenProfiler()).evaluate(arch, tmp_path / "cheap")
    assert cheap.failure_stage == "convert"
