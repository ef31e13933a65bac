"""Score a candidate with inherited supernet weights: extract, recalibrate BatchNorm, int8, LiteRT accuracy.

The same result record and conversion / metrics steps as :class:`evaluators.TrainingEvaluator`, with
the proxy training replaced by weight extraction (Cai et al. 2020, "Once-for-All", section 3.3:
sub-networks are evaluated directly with inherited weights after BatchNorm recalibration).
Latency is not measured here: the caller measures or predicts it.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from evaluators.candidate import (
    FAILED,
    CandidateResult,
    _arch_string,
    _Failed,
    _save_keras_model,
    _Timer,
    runtime_versions,
    score_int8,
)
from evaluators.datasets import Dataset, DatasetConfig, load_dataset
from evaluators.supernet.spec import SupernetError
from evaluators.supernet.supernet import Supernet

__all__ = ["SupernetEvaluator"]

logger = logging.getLogger(__name__)
_EVAL_BATCH = 256


class SupernetEvaluator:
    """Evaluate architectures with weights inherited from ``supernet`` (one dataset load per resolution)."""

    def __init__(self, supernet: Supernet, dataset_cfg: DatasetConfig, *, bn_calibration_images: int = 500,
                 calibration_samples: int = 100, seed: int = 0, save_keras_model: bool = True,
                 keras_accuracy: bool = True) -> None:
        if dataset_cfg.name != supernet.spec.dataset_name:
            raise SupernetError(f"supernet was trained on {supernet.spec.dataset_name!r}, not on {dataset_cfg.name!r}")
        if bn_calibration_images < 1:
            raise ValueError(f"bn_calibration_images must be >= 1, got {bn_calibration_images}")
        self.supernet = supernet
        self.dataset_cfg = dataset_cfg
        self.bn_calibration_images = bn_calibration_images
        self.calibration_samples = calibration_samples
        self.seed = seed
        self.save_keras_model = save_keras_model
        self.keras_accuracy = keras_accuracy
        self._datasets: dict[int, Dataset] = {}
        self._bn_images: dict[int, np.ndarray] = {}
        self._weights: dict[str, np.ndarray] | None = None

    def dataset(self, resolution: int) -> Dataset:
        if resolution not in self._datasets:
            self._datasets[resolution] = load_dataset(self.dataset_cfg, resolution=resolution,
                                                      channels=self.supernet.spec.channels, batch_size=_EVAL_BATCH,
                                                      with_test=False)
        return self._datasets[resolution]

    def bn_images(self, resolution: int) -> np.ndarray:
        """``bn_calibration_images`` training images drawn at random (seeded) from the plain training split."""
        if resolution not in self._bn_images:
            pool = self.dataset(resolution).calibration_images(4 * self.bn_calibration_images)
            rng = random.Random(self.seed)
            picked = sorted(rng.sample(range(len(pool)), min(self.bn_calibration_images, len(pool))))
            self._bn_images[resolution] = pool[picked]
        return self._bn_images[resolution]

    def evaluate(self, arch: Any, workdir: str | Path) -> CandidateResult:
        """Score ``arch``; a subnet outside the supernet raises :class:`SupernetError` (bad input), a failed
        conversion or evaluation gives ``status="failed"``."""
        self.supernet.check(arch)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        result = CandidateResult(architecture=_arch_string(arch), versions=runtime_versions())
        start = time.perf_counter()
        try:
            self._run(arch, workdir, result)
        except _Failed as failure:
            result.status, result.failure_stage, result.failure_reason = FAILED, failure.stage, failure.reason
            logger.warning("inherited evaluation of %s failed at %s: %s", result.architecture, failure.stage,
                           failure.reason)
        result.timings_s["total"] = round(time.perf_counter() - start, 3)
        return result

    def _run(self, arch: Any, workdir: Path, result: CandidateResult) -> None:
        from evaluators.conversion import convert
        from search_spaces.cost import arch_cost
        from search_spaces.keras_backend import keras

        dataset = self.dataset(arch.resolution)
        result.dataset = {"name": self.dataset_cfg.name, **{k: dataset.info[k] for k in ("counts", "num_skipped")}}
        cost = arch_cost(arch)
        result.params, result.macs = int(cost.params), int(cost.macs)
        timings = result.timings_s
        keras.backend.clear_session()
        if self._weights is None:
            with _Timer(timings, "read_weights"):
                self._weights = self.supernet.weights_numpy()
        with _Timer(timings, "bn_recalibrate"):  # in the supernet, before the standalone model exists
            weights = self.supernet.recalibrated(arch, self.bn_images(arch.resolution), self._weights)
        with _Timer(timings, "extract"):
            model = self.supernet.extract(arch, weights=weights)
        result.training = self._provenance()
        if self.keras_accuracy:
            with _Timer(timings, "keras_evaluate"):
                result.keras_accuracy = _float_accuracy(model, dataset)
        if self.save_keras_model:
            _save_keras_model(model, workdir, result, timings)
        score_int8(lambda: convert(model, "int8", calibration=dataset, calibration_samples=self.calibration_samples,
                                   seed=self.seed), dataset, workdir, result)

    def _provenance(self) -> dict[str, Any]:
        supernet = self.supernet
        manifest = supernet.manifest
        return {"accuracy_source": "inherited", "supernet": str(supernet.folder) if supernet.folder else None,
                "space_fingerprint": supernet.spec.space_fingerprint,
                "supernet_epochs": manifest.epochs_done if manifest else None,
                "bn_calibration_images": self.bn_calibration_images}


def _float_accuracy(model: Any, dataset: Dataset) -> float:
    """Float accuracy on the validation split through ``model.predict`` (one traced function; calling the
    model eagerly batch by batch was four times slower than the LiteRT evaluation)."""
    labels = np.concatenate([batch.numpy().reshape(-1) for _, batch in dataset.val])
    scores = model.predict(dataset.val.map(lambda images, _labels: images), verbose=0)
    return float((scores.argmax(-1) == labels).mean())
