"""A fake evaluator for the search tests: deterministic numbers from the analytic cost, no TensorFlow.

It lets the tests check the bookkeeping (resume, duplicates, constraints, failures) in seconds;
the real evaluators run in the tiny end-to-end tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nas.trial.protocol import AccuracyMeasurement, CostMeasurement, FatalSearchError
from search_spaces import arch_cost


class FakeEvaluator:
    """Size from the parameter count, latency from MACs, accuracy growing with both."""

    def __init__(self, *, channels: int = 1, num_classes: int = 10, train_seconds: float = 0.0,
                 fail_if: str | None = None, fail_trials: tuple[int, ...] = (),
                 fatal_after: int | None = None) -> None:
        self.channels = channels
        self.num_classes = num_classes
        self.train_seconds = train_seconds
        self.fail_if = fail_if  # substring of the architecture string that makes training fail
        self.fail_trials = fail_trials  # trial numbers whose training fails (read from the trial folder)
        self.fatal_after = fatal_after  # the profiler "becomes unreachable" after this many measurements
        self.cost_calls: list[str] = []
        self.train_calls: list[str] = []

    def measure_cost(self, arch: Any, trial_dir: Path) -> CostMeasurement:
        if self.fatal_after is not None and len(self.cost_calls) >= self.fatal_after:
            raise FatalSearchError("the profiler failed (unreachable): http://pi.local:8600 did not answer")
        self.cost_calls.append(arch.to_string())
        cost = arch_cost(arch)
        latency = cost.macs / 1e6
        model = trial_dir / "model_int8.tflite"
        model.write_bytes(b"x" * 16)
        return CostMeasurement(
            size_bytes=cost.params + 1000,
            latency_ms={"count": 3, "mean": latency, "std": 0.0, "min": latency, "p50": latency,
                        "p90": latency, "p95": latency, "max": latency},
            device={"machine": "fake"},
            profiler={"measured_by": "fake"},
            params=cost.params,
            macs=cost.macs,
            timings_s={"build": 0.01, "convert_untrained": 0.01, "profile": 0.01},
            artifacts={"tflite_int8_untrained": str(model)},
        )

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None) -> AccuracyMeasurement:
        text = arch.to_string()
        self.train_calls.append(text)
        if self.train_seconds:
            time.sleep(self.train_seconds)
        if (self.fail_if and self.fail_if in text) or trial_dir.name in {str(n) for n in self.fail_trials}:
            return AccuracyMeasurement(failure_reason="loss diverged (NaN) in epoch 1",
                                       timings_s={"train": 0.01})
        cost = arch_cost(arch)
        accuracy = min(0.99, 0.5 + cost.macs / 4e7)
        return AccuracyMeasurement(
            accuracy_int8=accuracy,
            metrics={"accuracy": accuracy, "accuracy_keras": accuracy + 0.01},
            timings_s={"train": 0.02, "convert": 0.01, "evaluate_int8": 0.01},
            artifacts={"tflite_int8": str(trial_dir / "model_int8.tflite"),
                       "keras_model": str(trial_dir / "model.keras")},
        )


class RungFakeEvaluator(FakeEvaluator):
    """The fake evaluator that trains in rungs: accuracy at epoch e is ``final * e / total``.

    It asks ``rungs.judge`` at each decision rung like ``evaluators.fit_in_rungs`` and stops where
    told; ``resumed_from`` lists the rung checkpoints it was asked to resume from.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resumed_from: list[Path | None] = []
        self.judged: list[tuple[str, int]] = []

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None,
                           rungs: Any = None) -> AccuracyMeasurement:
        full = super().train_and_evaluate(arch, trial_dir, epochs=epochs)
        if rungs is None or full.failure_reason is not None:
            return full
        self.resumed_from.append(rungs.resume_from)
        reached: dict[int, float] = {}
        for epoch in rungs.plan.decision_epochs:
            reached[epoch] = full.accuracy_int8 * epoch / rungs.plan.total_epochs
            self.judged.append((arch.to_string(), epoch))
            if not rungs.judge(epoch, reached[epoch]):
                return AccuracyMeasurement(accuracy_int8=reached[epoch], metrics=dict(full.metrics),
                                           timings_s=dict(full.timings_s), artifacts=dict(full.artifacts),
                                           rung_accuracies=reached, stopped_at_epoch=epoch)
        full.rung_accuracies = reached
        return full
