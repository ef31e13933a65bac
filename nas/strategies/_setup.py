"""What every trial of a search needs, built once per process: space, reference, pipeline.

Ray Tune workers build their own (:mod:`nas.strategies._ray`), so this module depends on the
configuration only, never on the loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

from nas.config.settings import ConfigError, SearchConfig
from nas.trial.early_stopping import EarlyStopping
from nas.trial.latency import latency_source_for
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialPipeline
from nas.trial.protocol import CandidateEvaluator

logger = logging.getLogger(__name__)

# TensorFlow reads it when it first touches a GPU: allocate GPU memory as needed, not all at once.
TF_GPU_GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"


@dataclasses.dataclass
class SearchSetup:
    """Everything a trial needs, built once per process."""

    config: SearchConfig
    space: Any  # search_spaces.SearchSpace
    objectives: ObjectiveSet
    pipeline: TrialPipeline
    reference_arch: Any | None  # search_spaces.Architecture
    reference_params: dict[str, Any] | None  # the reference's choices, None if outside the space

    @property
    def study_dir(self) -> Path:
        return self.pipeline.study_dir


def make_evaluator(config: SearchConfig) -> CandidateEvaluator:
    """The real evaluators of ``evaluator.name`` (TensorFlow is imported here, not before; GPU memory grows as
    needed); with ``supernet`` the supernet is loaded here, once per process."""
    allow_gpu_memory_growth()
    from nas.trial.evaluation import EvaluatorAdapter

    adapter = EvaluatorAdapter.from_config(config)
    if not config.evaluator.inherits_weights:
        return adapter
    from nas.trial.supernet import SupernetCandidateEvaluator  # evaluator: supernet (issue 16)

    space = build_space(config, channels=adapter.channels, num_classes=adapter.num_classes)
    return SupernetCandidateEvaluator.for_study(config, adapter, space)


def allow_gpu_memory_growth() -> None:
    """TensorFlow takes GPU memory as it needs it, so trials sharing a GPU (``gpus_per_trial: 0.5``)
    do not each grab all of it (``tf.config.experimental.set_memory_growth``, set through its
    environment variable so it holds wherever TensorFlow is imported later in this process)."""
    os.environ[TF_GPU_GROWTH_ENV] = "true"
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):  # already initialized: the variable held then
            tf.config.experimental.set_memory_growth(gpu, True)


def build_space(config: SearchConfig, *, channels: int, num_classes: int) -> Any:
    """The configured search space, adapted to the dataset's channels and classes."""
    from search_spaces.space import SearchSpace

    if config.search_space_source == "default":
        space = SearchSpace.default()
    else:
        space = SearchSpace.from_yaml(Path(config.search_space_source))
    return space.with_input(resolutions=config.search_space_resolutions, channels=channels, num_classes=num_classes)


def build_reference(config: SearchConfig, space: Any, evaluator: CandidateEvaluator) -> tuple[Any, dict | None]:
    """The configured baseline (MobileNetV2) at the search's input, and its choices in ``space``."""
    from search_spaces import get_baseline
    from search_spaces.space import SearchSpaceError

    try:
        baseline = get_baseline(config.reference_baseline)
    except KeyError as exc:
        raise ConfigError(f"reference.baseline: {exc.args[0]}") from None
    resolution = (config.search_space_resolutions or space.resolution)[0]
    reference_arch = baseline.with_input(
        resolution=resolution, channels=evaluator.channels, num_classes=evaluator.num_classes)
    try:
        return reference_arch, space.choices_of(reference_arch)
    except SearchSpaceError as exc:
        logger.info("reference %s is outside the search space (%s); it is evaluated as given",
                    config.reference_baseline, exc)
        return reference_arch, None


def early_stopping_of(config: SearchConfig) -> EarlyStopping | None:
    """The MO-ASHA rule of ``config`` (None: ``early_stopping.rungs`` is empty)."""
    settings = config.early_stopping
    if not settings.enabled:
        return None
    return EarlyStopping(settings.rungs_epochs, settings.reduction_factor, settings.tie_break, config.objectives)


def build_setup(config: SearchConfig, evaluator: CandidateEvaluator | None = None) -> SearchSetup:
    """Space, reference and pipeline for ``config``; ``evaluator`` defaults to the real evaluators."""
    evaluator = evaluator or make_evaluator(config)
    space = build_space(config, channels=evaluator.channels, num_classes=evaluator.num_classes)
    reference_arch, reference_params = None, None
    if config.reference_baseline:
        reference_arch, reference_params = build_reference(config, space, evaluator)
    objectives = ObjectiveSet.from_config(config)
    pipeline = TrialPipeline(evaluator, objectives, config.constraints, config.study.study_dir,
                             latency_source=latency_source_for(config), early_stopping=early_stopping_of(config),
                             training_epochs=config.training.epochs)
    return SearchSetup(config, space, objectives, pipeline, reference_arch, reference_params)
