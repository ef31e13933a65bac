"""The typed, frozen settings of one search (:class:`SearchConfig`) and the names each key allows.

:mod:`nas.config.loader` reads the default YAML, a user YAML and flags into one dict;
:mod:`nas.config.validate` checks it section by section and builds these values. ``dataset`` and
``training`` are ``evaluators.DatasetConfig`` / ``evaluators.TrainConfig`` themselves, checked when
the config is loaded. ``SearchConfig.as_dict()`` is the form the study records.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

from evaluators import DatasetConfig, SupernetTrainConfig, TrainConfig
from nas.record.errors import StudyError
from nas.record.storage import default_storage_url, read_secret_file

OBJECTIVE_NAMES = ("accuracy", "latency", "size")
STRATEGY_NAMES = ("nsga2", "tpe", "random", "reward", "keras-tuner")
KERAS_TUNER_ORACLES = ("bayesian", "hyperband")
PROFILER_KINDS = ("local", "remote")
BACKEND_NAMES = ("local", "ray")
# Where a candidate's latency comes from (nas.trial.latency holds the sources); a predictor or a
# lookup table joins here when it exists.
LATENCY_SOURCES = ("measured", "predicted", "predicted+verify")
# What a predictor does with a kernel it never saw in calibration (issue 15).
UNSEEN_KERNEL_POLICIES = ("warn", "refuse")
# How MO-ASHA breaks ties within one non-dominated front (nas.trial.early_stopping).
EARLY_STOPPING_TIE_BREAKS = ("epsilon_net", "crowding")
# How a candidate's accuracy is measured (nas.trial): a proxy training per trial, or weights inherited
# from a supernet trained once (evaluators.supernet, issue 16).
EVALUATOR_NAMES = ("training", "supernet")
# The supernet folder when `evaluator.supernet.folder` is null: beside the study.
SUPERNET_FOLDER_NAME = "supernet"
# Artifact stores (nas.record.artifacts): a folder every node mounts, or S3 (or S3-compatible).
ARTIFACT_URL_SCHEMES = ("file", "s3")
PROFILER_TOKEN_ENV = "EDGE_PROFILER_TOKEN"


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key and what is allowed."""


def read_profiler_token(token_file: str | None) -> str | None:
    """The bearer token for the profiler agents: from ``token_file``, else ``$EDGE_PROFILER_TOKEN``."""
    if token_file:
        try:
            return read_secret_file(Path(token_file), "profiler.token_file")
        except StudyError as exc:
            raise ConfigError(str(exc)) from None
    return os.environ.get(PROFILER_TOKEN_ENV) or None


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """Where the study lives: ``runs_dir/name/`` holds its SQLite file (unless ``storage``) and artifacts."""

    name: str
    storage: str | None
    runs_dir: Path
    seed: int

    @property
    def study_dir(self) -> Path:
        return self.runs_dir / self.name


@dataclasses.dataclass(frozen=True)
class ConstraintSettings:
    """Hard limits; a candidate over a latency/size limit is measured but not trained."""

    max_latency_ms: float | None
    max_size_bytes: int | None
    min_accuracy: float | None

    @property
    def active(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


@dataclasses.dataclass(frozen=True)
class RewardSettings:
    """MnasNet reward ``acc * (latency / target) ** exponent`` (Tan et al. 2019)."""

    target_latency_ms: float
    exponent: float


@dataclasses.dataclass(frozen=True)
class KerasTunerSettings:
    oracle: str
    max_epochs: int


@dataclasses.dataclass(frozen=True)
class StrategySettings:
    name: str
    n_trials: int
    timeout_s: float | None
    population_size: int
    reward: RewardSettings
    keras_tuner: KerasTunerSettings


@dataclasses.dataclass(frozen=True)
class ProfilerSettings:
    """How latency is measured: the local interpreter or remote agents (``edge_profiler``)."""

    kind: str
    urls: tuple[str, ...]
    token_file: str | None
    threads: int
    warmup_runs: int
    runs: int
    min_seconds: float
    use_xnnpack: bool

    def read_token(self) -> str | None:
        """The agents' bearer token from ``token_file``, else ``$EDGE_PROFILER_TOKEN``, else None.

        The token itself is never part of the configuration: the study records its configuration.
        """
        return read_profiler_token(self.token_file)

    def measure_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``edge_profiler.client.*Profiler.measure``."""
        return {
            "threads": self.threads,
            "warmup_runs": self.warmup_runs,
            "runs": self.runs,
            "min_seconds": self.min_seconds,
            "use_xnnpack": self.use_xnnpack,
        }


@dataclasses.dataclass(frozen=True)
class BackendSettings:
    name: str
    address: str | None
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int | None
    max_failures: int


@dataclasses.dataclass(frozen=True)
class LatencySettings:
    """Where a candidate's latency comes from: ``source`` is one of :data:`LATENCY_SOURCES`."""

    source: str = "measured"
    predictor: str | None = None  # predictor.json of `nas latency calibrate` (predicted sources)
    unseen_kernels: str = "warn"
    verify_fraction: float = 0.1  # predicted+verify: share of non-front candidates also measured
    drift_threshold: float = 0.1  # predicted+verify: median |residual| that triggers a refit + warning


@dataclasses.dataclass(frozen=True)
class EarlyStoppingSettings:
    """Multi-objective successive halving (MO-ASHA, Schmucker et al. 2021) of the per-trial training.

    ``rungs_epochs`` empty: off. At each rung below ``training.epochs`` a trial goes on only if it
    ranks in the top ``1 / reduction_factor`` of the trials that reached that rung, by non-dominated
    sorting on (accuracy at the rung, latency, size), ties broken by ``tie_break`` (:func:`nas.pareto.promotion_order`).
    """

    rungs_epochs: tuple[int, ...] = ()
    reduction_factor: float = 3.0
    tie_break: str = "epsilon_net"

    @property
    def enabled(self) -> bool:
        return bool(self.rungs_epochs)


def default_supernet_training() -> SupernetTrainConfig:
    """``nas supernet train``'s budget when the config sets none (the default YAML's values)."""
    return SupernetTrainConfig(epochs=10, batch_size=64, learning_rate=3e-3)


@dataclasses.dataclass(frozen=True)
class SupernetSettings:
    """The supernet of ``evaluator: supernet`` (Once-for-All, Cai et al. 2020; BigNAS, Yu et al. 2020).

    ``folder`` None: ``<study_dir>/supernet``. ``bn_calibration_images``: training images whose batch
    statistics replace each BatchNorm's moving ones before scoring (OFA's recalibration).
    ``training``: what ``nas supernet train`` runs.
    """

    folder: Path | None = None
    bn_calibration_images: int = 500
    training: SupernetTrainConfig = dataclasses.field(default_factory=default_supernet_training)

    def folder_for(self, study: StudySettings) -> Path:
        """The supernet folder of ``study``: the configured one, else beside the study."""
        return self.folder if self.folder is not None else study.study_dir / SUPERNET_FOLDER_NAME


@dataclasses.dataclass(frozen=True)
class EvaluatorSettings:
    """How a candidate's accuracy is measured: ``training`` (proxy training per trial) or ``supernet``
    (weights inherited from :attr:`supernet`, BatchNorm recalibrated, int8 through LiteRT)."""

    name: str = "training"
    supernet: SupernetSettings = SupernetSettings()

    @property
    def inherits_weights(self) -> bool:
        return self.name == "supernet"


@dataclasses.dataclass(frozen=True)
class ArtifactSettings:
    """Where trial artifacts are stored for every node to read (Optuna artifact store); ``url`` None:
    only in the trial folder of the machine that ran the trial."""

    url: str | None = None


@dataclasses.dataclass(frozen=True)
class Concurrency:
    """How many trials run at once on a Ray cluster, and why (for the log)."""

    max_trials: int
    reason: str


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """The validated configuration of one search. ``as_dict()`` is stored in the study."""

    study: StudySettings
    search_space_source: str
    search_space_resolutions: tuple[int, ...] | None
    search_space_channels: int | None
    dataset: DatasetConfig
    training: TrainConfig
    objectives: tuple[str, ...]
    constraints: ConstraintSettings
    strategy: StrategySettings
    reference_baseline: str | None
    profiler: ProfilerSettings
    backend: BackendSettings
    latency: LatencySettings = LatencySettings()
    artifact_store: ArtifactSettings = ArtifactSettings()
    early_stopping: EarlyStoppingSettings = EarlyStoppingSettings()
    evaluator: EvaluatorSettings = EvaluatorSettings()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def storage_url(self) -> str:
        """The Optuna storage URL; SQLite in the study folder unless one is configured."""
        return self.study.storage or default_storage_url(self.study.runs_dir, self.study.name)

    @property
    def max_concurrent_trials(self) -> int:
        """Concurrency bound on one machine: never more trials at once than profiler agents (Pis not
        oversubscribed); with the local profiler ``backend.max_concurrent`` (default 1)."""
        return self.concurrency(ray_nodes=1).max_trials

    def concurrency(self, *, ray_nodes: int) -> Concurrency:
        """Trials at once on a Ray cluster of ``ray_nodes`` nodes, with the reason to log.

        Remote agents cap it (one trial per agent, a Pi measures one model at a time). With the local
        profiler each worker measures on its own CPU: by default one trial per node, so measurements on
        one node do not disturb each other; ``backend.max_concurrent`` sets any other number.
        """
        wanted = self.backend.max_concurrent
        if self.profiler.kind == "remote":
            agents = len(self.profiler.urls)
            if wanted is None or wanted >= agents:
                return Concurrency(agents, f"capped at {agents}: one trial per profiler agent (profiler.urls)")
            return Concurrency(wanted, f"backend.max_concurrent {wanted} (profiler agents: {agents})")
        if wanted is None:
            return Concurrency(ray_nodes, f"one trial per Ray node ({ray_nodes}): each measures latency on its own "
                                          "node's CPU (local profiler); backend.max_concurrent sets another number")
        return Concurrency(wanted, f"backend.max_concurrent {wanted}: each trial measures latency on the CPU "
                                   "of the node it runs on (local profiler)")

    def as_dict(self) -> dict[str, Any]:
        """The merged config tree as given (``dataset``/``training`` with only the keys set), for the study."""
        return copy.deepcopy(self.raw)
