"""Fake evaluators the cluster tests hand to Ray workers (importable there through PYTHONPATH)."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path
from typing import Any

from nas.trial.protocol import AccuracyMeasurement, CostMeasurement
from tests.nas.fakes import FakeEvaluator


class ClusterFakeEvaluator(FakeEvaluator):
    """The fake evaluator that also writes the trained model's files (so artifacts can be uploaded)
    and records what the trial process saw: its host and TensorFlow's GPU memory-growth setting."""

    def measure_cost(self, arch: Any, trial_dir: Path) -> CostMeasurement:
        cost = super().measure_cost(arch, trial_dir)
        seen = {"host": socket.gethostname(), "tf_gpu_growth": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH")}
        return dataclasses.replace(cost, device={**cost.device, **seen})

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None) -> AccuracyMeasurement:
        result = super().train_and_evaluate(arch, trial_dir, epochs=epochs)
        # Different bytes per trial: a download from the store can be told apart from another trial's.
        (trial_dir / "model_int8.tflite").write_bytes(b"TFL3" + arch.to_string().encode())
        (trial_dir / "model.keras").write_bytes(b"keras:" + arch.to_string().encode())
        return result


class CrashingEvaluator(FakeEvaluator):
    """Training raises (a crash of the trial process, not a failed candidate): Ray retries, then gives up."""

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None) -> AccuracyMeasurement:
        raise RuntimeError("worker crashed while training (test)")
