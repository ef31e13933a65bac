"""The real evaluators behind :class:`nas.trial.protocol.CandidateEvaluator`.

``evaluators.CheapEvaluator`` measures the untrained int8 model (size, latency) and
``evaluators.TrainingEvaluator`` trains, converts and evaluates the int8 model through LiteRT; the
latency of the cheap step is reused for the trained model (same graph, same int8 kernels).
A profiler that cannot be reached or refuses our token is fatal (the search stops, resumable);
any other failure belongs to the candidate.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.config.settings import ConfigError, ProfilerSettings, SearchConfig, read_profiler_token
from nas.trial.protocol import AccuracyMeasurement, CostMeasurement, FatalSearchError

logger = logging.getLogger(__name__)

# ProfilerError kinds that are about the agents, not the model: retrying another candidate won't help.
FATAL_PROFILER_KINDS = frozenset({"unreachable", "unauthorized", "busy", "not_found"})
# Datasets stored in grayscale; every other one is RGB.
GRAYSCALE_DATASETS = frozenset({"digits", "mnist", "fashion-mnist", "lfw-faces"})
# Fields of an edge_profiler measurement result (its schema: docs/interfaces.md, "edge_profiler"),
# not of the trial record: the latency statistics, the device description, and the provenance kept.
_RESULT_LATENCY, _RESULT_DEVICE = "latency_ms", "device"
_PROFILER_KEYS = ("measured_by", "runtime", "params", "throttled", "cached", "init_ms", "first_inference_ms",
                  "peak_memory_mb", "model_sha256", "model_size_bytes", "xnnpack_applied")


def make_profiler(profiler: ProfilerSettings | Mapping[str, Any]) -> Any:
    """The profiler a study uses: ``LocalProfiler``, or a ``RemoteProfiler`` pool over its agents.

    Takes the ``profiler`` settings, or their recorded dict form (``nas export`` reads them from the study).
    The token is read from ``token_file`` or ``$EDGE_PROFILER_TOKEN`` here, never from the record.
    """
    from edge_profiler.client import LocalProfiler, RemoteProfiler

    settings = dict(profiler) if isinstance(profiler, Mapping) else dataclasses.asdict(profiler)
    if settings.get("kind", "local") == "remote":
        urls = list(settings.get("urls") or [])
        if not urls:
            raise ConfigError("profiler.urls: profiler.kind 'remote' needs at least one agent URL")
        from nas.trial import agent_waits

        return RemoteProfiler(urls, token=read_profiler_token(settings.get("token_file")),
                              on_wait=agent_waits.publish)
    return LocalProfiler()


class EvaluatorAdapter:
    """:class:`~nas.trial.protocol.CandidateEvaluator` over ``evaluators.CheapEvaluator`` and ``TrainingEvaluator``."""

    def __init__(self, cheap: Any, training: Any, *, channels: int, num_classes: int) -> None:
        self.cheap = cheap
        self.training = training
        self.channels = channels
        self.num_classes = num_classes
        self._cheap_results: dict[Path, Any] = {}

    @classmethod
    def from_config(cls, config: SearchConfig) -> EvaluatorAdapter:
        """Evaluators, profiler and dataset of ``config``; a dataset that cannot load is fatal."""
        from evaluators import CheapEvaluator, DatasetError, TrainingEvaluator

        dataset_cfg, train_cfg = config.dataset, config.training  # validated when the config was loaded
        try:
            profiler = make_profiler(config.profiler)
        except ValueError as exc:
            raise ConfigError(f"profiler: {exc}") from None
        params = config.profiler.measure_kwargs()
        training = TrainingEvaluator(dataset_cfg, train_cfg, profiler=profiler, profile_params=params)
        channels = config.search_space_channels or (1 if dataset_cfg.name in GRAYSCALE_DATASETS else 3)
        resolution = (config.search_space_resolutions or (224,))[0]
        try:
            dataset = training.dataset(resolution, channels)
        except DatasetError as exc:
            raise FatalSearchError(f"dataset {dataset_cfg.name!r} cannot be loaded: {exc}") from None
        cheap = CheapEvaluator(profiler, params, seed=config.study.seed)
        return cls(cheap, training, channels=channels, num_classes=dataset.num_classes)

    def measure_cost(self, arch: Any, trial_dir: Path) -> CostMeasurement:
        result = self.cheap.evaluate(arch, trial_dir)
        self._cheap_results[Path(trial_dir)] = result
        _raise_if_fatal(result)
        latency = result.latency or {}
        timings = dict(result.timings_s)
        return CostMeasurement(
            size_bytes=result.size_bytes,
            latency_ms=dict(latency.get(_RESULT_LATENCY) or {}),
            device=dict(latency.get(_RESULT_DEVICE) or {}),
            profiler={k: latency[k] for k in _PROFILER_KEYS if k in latency},
            params=result.params,
            macs=result.macs,
            timings_s={"build": timings.get("build", 0.0), "convert_untrained": timings.get("convert", 0.0),
                       "profile": timings.get("profile", 0.0)},
            artifacts=dict(result.artifacts),
            versions=dict(result.versions),
            failure_reason=None if result.ok else f"{result.failure_stage}: {result.failure_reason}",
        )

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None,
                           rungs: Any = None) -> AccuracyMeasurement:
        cheap = self._cheap_results.pop(Path(trial_dir), None)
        default_cfg = self.training.train_cfg
        if epochs is not None and epochs != default_cfg.epochs:
            self.training.train_cfg = dataclasses.replace(default_cfg, epochs=int(epochs))
        try:
            result = self.training.evaluate(arch, trial_dir, cheap=cheap, rungs=rungs)
        finally:
            self.training.train_cfg = default_cfg
        _raise_if_fatal(result)
        timings = dict(result.timings_s)
        metrics = dict(result.metrics_int8)
        metrics.update(keras_accuracy=result.keras_accuracy, accuracy_gap=result.accuracy_gap,
                       training=result.training,
                       dataset=result.dataset, train_config=result.train_config)
        return AccuracyMeasurement(
            accuracy_int8=result.accuracy_int8,
            size_bytes=result.size_bytes,
            metrics=metrics,
            timings_s={"build_for_training": timings.get("build", 0.0), "train": timings.get("train", 0.0),
                       "save_keras": timings.get("save", 0.0), "convert": timings.get("convert", 0.0),
                       "evaluate_int8": timings.get("evaluate", 0.0)},
            artifacts=dict(result.artifacts),
            failure_reason=None if result.ok else f"{result.failure_stage}: {result.failure_reason}",
            rung_accuracies=dict(result.rung_accuracies),
            stopped_at_epoch=result.stopped_at_epoch,
        )


def _raise_if_fatal(result: Any) -> None:
    if not result.ok and result.profiler_error_kind in FATAL_PROFILER_KINDS:
        raise FatalSearchError(f"the profiler failed ({result.profiler_error_kind}): {result.failure_reason}")
