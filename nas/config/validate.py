"""Validation of a merged config dict, one short function per section, into a frozen :class:`SearchConfig`.

Every message names the dotted key and what it allows (``strategy.name: 'nsga3' is not one of ...``).
``build_config`` also reads the config dict a study recorded, of this version or an earlier one: a
study recorded before a section existed (``latency``) gets its default, and the profiler token an
early version recorded is forgotten.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluators import DatasetConfig, SupernetTrainConfig, TrainConfig
from nas.config.settings import (
    ARTIFACT_URL_SCHEMES,
    BACKEND_NAMES,
    EARLY_STOPPING_TIE_BREAKS,
    EVALUATOR_NAMES,
    KERAS_TUNER_ORACLES,
    LATENCY_SOURCES,
    OBJECTIVE_NAMES,
    PROFILER_KINDS,
    STRATEGY_NAMES,
    UNSEEN_KERNEL_POLICIES,
    ArtifactSettings,
    BackendSettings,
    ConfigError,
    ConstraintSettings,
    EarlyStoppingSettings,
    EvaluatorSettings,
    KerasTunerSettings,
    LatencySettings,
    ProfilerSettings,
    RewardSettings,
    SearchConfig,
    StrategySettings,
    StudySettings,
    SupernetSettings,
)
from nas.record.storage import redact_url, url_has_password

# Single-objective strategies that optimize the MnasNet reward, which is built on the accuracy.
REWARD_STRATEGIES = ("reward", "keras-tuner")


def build_config(tree: Mapping[str, Any]) -> SearchConfig:
    """Validate a merged config dict and freeze it into a :class:`SearchConfig` (``raw``: its dict form)."""
    tree = copy.deepcopy(dict(tree))
    profiler_values = _section(tree, "profiler")
    _forget_recorded_token(profiler_values)
    _add_missing_sections(tree)
    study = _study(_section(tree, "study"))
    source, resolutions, channels = _search_space(_section(tree, "search_space"))
    dataset = _dataset(_section(tree, "dataset"))
    training = _training(_section(tree, "training"))
    objectives = _objectives(tree.get("objectives"))
    tree["objectives"] = list(objectives)
    constraints = _constraints(_section(tree, "constraints"))
    strategy = _strategy(_section(tree, "strategy"), objectives)
    reference = _string("reference.baseline", _fields("reference", _section(tree, "reference"), "baseline")[0],
                        optional=True)
    _check_baseline(reference)
    profiler = _profiler(profiler_values)
    profiler_values["urls"] = list(profiler.urls)  # the stored form: a list, whatever was given
    backend = _backend(_section(tree, "backend"), strategy)
    return SearchConfig(
        study=study,
        search_space_source=source,
        search_space_resolutions=resolutions,
        search_space_channels=channels,
        dataset=dataset,
        training=training,
        objectives=objectives,
        constraints=constraints,
        strategy=strategy,
        reference_baseline=reference,
        profiler=profiler,
        backend=backend,
        latency=_latency(_section(tree, "latency")),
        artifact_store=_artifact_store(_section(tree, "artifact_store")),
        early_stopping=_early_stopping(_section(tree, "early_stopping"), training, strategy),
        evaluator=_evaluator(_section(tree, "evaluator"), strategy, _section(tree, "early_stopping")),
        raw=tree,
    )


def _add_missing_sections(tree: dict[str, Any]) -> None:
    """Sections a study recorded before they existed get their defaults."""
    tree.setdefault("latency", {"source": LatencySettings().source})
    tree.setdefault("artifact_store", {"url": ArtifactSettings().url})
    tree.setdefault("early_stopping", {"rungs": []})
    tree.setdefault("evaluator", {"name": EvaluatorSettings().name})


def _forget_recorded_token(profiler_values: dict[str, Any]) -> None:
    # Studies recorded before `profiler.token_file` held the token itself; user input never reaches
    # here with that key (the loader refuses it), so this is an old record: forget the secret.
    if "token" in profiler_values:
        profiler_values.pop("token")
        profiler_values.setdefault("token_file", None)


# ---- sections ---------------------------------------------------------------------------------------


def _study(values: Mapping[str, Any]) -> StudySettings:
    name, storage, runs_dir, seed = _fields("study", values, "name", "storage", "runs_dir", "seed")
    name = _string("study.name", name)
    if "/" in name or name in (".", ".."):
        raise ConfigError(f"study.name: {name!r} must be a plain folder name without '/'")
    storage = _string("study.storage", storage, optional=True)
    if storage is not None and url_has_password(storage):
        raise ConfigError(f"study.storage: {redact_url(storage)} holds a password, which the study would record; "
                          "give the URL without it and the password in $NAS_STORAGE_PASSWORD or a file named by "
                          "$NAS_STORAGE_PASSWORD_FILE")
    return StudySettings(
        name=name,
        storage=storage,
        runs_dir=Path(_string("study.runs_dir", runs_dir)),
        seed=_number("study.seed", seed, integer=True),
    )


def _search_space(values: Mapping[str, Any]) -> tuple[str, tuple[int, ...] | None, int | None]:
    """(source, resolutions, channels) of the ``search_space`` section."""
    source, resolutions, channels = _fields("search_space", values, "source", "resolutions", "channels")
    source = _string("search_space.source", source)
    if source != "default" and not Path(source).is_file():
        raise ConfigError(f"search_space.source: {source!r} is neither 'default' nor an existing YAML file")
    if resolutions is not None:
        if isinstance(resolutions, int):
            resolutions = [resolutions]
        if not isinstance(resolutions, list) or not resolutions:
            raise ConfigError(f"search_space.resolutions: expected a list of pixel sizes or null, got {resolutions!r}")
        resolutions = tuple(_number("search_space.resolutions", size, integer=True, minimum=8) for size in resolutions)
    if channels is not None and channels not in (1, 3):
        raise ConfigError(f"search_space.channels: {channels!r} is not one of 1, 3, null")
    _check_space(source, resolutions, channels)
    return source, resolutions, channels


def _check_baseline(name: str | None) -> None:
    """An unknown ``reference.baseline`` stops the search before the dataset loads."""
    from search_spaces.baselines import BASELINES

    if name and name not in BASELINES:
        raise ConfigError(f"reference.baseline: unknown baseline {name!r}; known: {', '.join(BASELINES)}")


def _check_space(source: str, resolutions: tuple[int, ...] | None, channels: int | None) -> None:
    """Load the space now, so a bad file stops the search before the dataset loads."""
    from search_spaces.space import SearchSpace, SearchSpaceError

    try:
        space = SearchSpace.default() if source == "default" else SearchSpace.from_yaml(Path(source))
        space.with_input(resolutions=resolutions, channels=channels)
    except SearchSpaceError as exc:
        where = "search_space.resolutions" if source == "default" else f"search_space.source {source}"
        raise ConfigError(f"{where}: {exc}") from None


def _dataset(values: Mapping[str, Any]) -> DatasetConfig:
    return build_dataclass(DatasetConfig, values, "dataset")


def _training(values: Mapping[str, Any]) -> TrainConfig:
    return build_dataclass(TrainConfig, values, "training")


def _objectives(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"objectives: expected a non-empty list drawn from {', '.join(OBJECTIVE_NAMES)}, "
                          f"got {value!r}")
    for name in value:
        _choice("objectives", name, OBJECTIVE_NAMES)
    if len(set(value)) != len(value):
        raise ConfigError(f"objectives: {value!r} lists an objective twice")
    return tuple(value)


def _constraints(values: Mapping[str, Any]) -> ConstraintSettings:
    latency, size, accuracy = _fields("constraints", values, "max_latency_ms", "max_size_bytes", "min_accuracy")
    constraints = ConstraintSettings(
        max_latency_ms=_number("constraints.max_latency_ms", latency, optional=True, strictly_positive=True),
        max_size_bytes=_number("constraints.max_size_bytes", size, optional=True, integer=True,
                               strictly_positive=True),
        min_accuracy=_number("constraints.min_accuracy", accuracy, optional=True, minimum=0.0),
    )
    if constraints.min_accuracy is not None and constraints.min_accuracy > 1.0:
        raise ConfigError(f"constraints.min_accuracy: a fraction in [0, 1], got {constraints.min_accuracy!r}")
    return constraints


def _strategy(values: Mapping[str, Any], objectives: Sequence[str]) -> StrategySettings:
    name, n_trials, timeout_s, population_size, reward, keras_tuner = _fields(
        "strategy", values, "name", "n_trials", "timeout_s", "population_size", "reward", "keras_tuner")
    target_latency_ms, exponent = _fields("strategy.reward", reward, "target_latency_ms", "exponent")
    oracle, max_epochs = _fields("strategy.keras_tuner", keras_tuner, "oracle", "max_epochs")
    strategy = StrategySettings(
        name=_choice("strategy.name", name, STRATEGY_NAMES),
        n_trials=_number("strategy.n_trials", n_trials, integer=True, minimum=1),
        timeout_s=_number("strategy.timeout_s", timeout_s, optional=True, strictly_positive=True),
        population_size=_number("strategy.population_size", population_size, integer=True, minimum=2),
        reward=RewardSettings(
            target_latency_ms=_number("strategy.reward.target_latency_ms", target_latency_ms, strictly_positive=True),
            exponent=_number("strategy.reward.exponent", exponent),
        ),
        keras_tuner=KerasTunerSettings(
            oracle=_choice("strategy.keras_tuner.oracle", oracle, KERAS_TUNER_ORACLES),
            max_epochs=_number("strategy.keras_tuner.max_epochs", max_epochs, integer=True, minimum=1),
        ),
    )
    if strategy.name in REWARD_STRATEGIES and "accuracy" not in objectives:
        raise ConfigError(f"strategy.name: {strategy.name!r} optimizes the MnasNet reward, "
                          "which needs 'accuracy' in objectives")
    return strategy


def _profiler(values: Mapping[str, Any]) -> ProfilerSettings:
    kind, urls, token_file, threads, warmup_runs, runs, min_seconds, use_xnnpack = _fields(
        "profiler", values, "kind", "urls", "token_file", "threads", "warmup_runs", "runs", "min_seconds",
        "use_xnnpack")
    agent_urls = urls or []
    if isinstance(agent_urls, str):
        agent_urls = [url.strip() for url in agent_urls.split(",") if url.strip()]
    if not isinstance(agent_urls, list) or not all(isinstance(url, str) and url for url in agent_urls):
        raise ConfigError(f"profiler.urls: expected a list of agent URLs, got {urls!r}")
    profiler = ProfilerSettings(
        kind=_choice("profiler.kind", kind, PROFILER_KINDS),
        urls=tuple(agent_urls),
        token_file=_string("profiler.token_file", token_file, optional=True),
        threads=_number("profiler.threads", threads, integer=True, minimum=1),
        warmup_runs=_number("profiler.warmup_runs", warmup_runs, integer=True, minimum=0),
        runs=_number("profiler.runs", runs, integer=True, minimum=1),
        min_seconds=_number("profiler.min_seconds", min_seconds, minimum=0.0),
        use_xnnpack=_bool("profiler.use_xnnpack", use_xnnpack),
    )
    if profiler.kind == "remote" and not profiler.urls:
        raise ConfigError("profiler.urls: profiler.kind 'remote' needs at least one agent URL")
    return profiler


def _backend(values: Mapping[str, Any], strategy: StrategySettings) -> BackendSettings:
    name, address, cpus, gpus, max_concurrent, max_failures = _fields(
        "backend", values, "name", "address", "cpus_per_trial", "gpus_per_trial", "max_concurrent", "max_failures")
    backend = BackendSettings(
        name=_choice("backend.name", name, BACKEND_NAMES),
        address=_string("backend.address", address, optional=True),
        cpus_per_trial=_number("backend.cpus_per_trial", cpus, strictly_positive=True),
        gpus_per_trial=_number("backend.gpus_per_trial", gpus, minimum=0.0),
        max_concurrent=_number("backend.max_concurrent", max_concurrent, optional=True, integer=True, minimum=1),
        max_failures=_number("backend.max_failures", max_failures, integer=True, minimum=0),
    )
    if backend.name == "ray" and strategy.name == "keras-tuner":
        raise ConfigError("backend.name: 'ray' runs Optuna strategies (nsga2, tpe, random, reward), not 'keras-tuner'")
    return backend


def _latency(values: Mapping[str, Any]) -> LatencySettings:
    (source,) = _fields("latency", values, "source")
    defaults = LatencySettings()
    predictor = values.get("predictor")
    if source != "measured" and not predictor:
        raise ConfigError(f"latency.predictor: latency.source {source!r} needs a predictor file "
                          "(nas latency calibrate)")
    return LatencySettings(
        source=_choice("latency.source", source, LATENCY_SOURCES),
        predictor=_string("latency.predictor", predictor, optional=True),
        unseen_kernels=_choice("latency.unseen_kernels", values.get("unseen_kernels", defaults.unseen_kernels),
                               UNSEEN_KERNEL_POLICIES),
        verify_fraction=_number("latency.verify_fraction", values.get("verify_fraction", defaults.verify_fraction),
                                minimum=0.0),
        drift_threshold=_number("latency.drift_threshold", values.get("drift_threshold", defaults.drift_threshold),
                                strictly_positive=True))


def _early_stopping(values: Mapping[str, Any], training: TrainConfig,
                    strategy: StrategySettings) -> EarlyStoppingSettings:
    defaults = EarlyStoppingSettings()
    allowed = ("rungs", "reduction_factor", "tie_break")
    unknown = [key for key in values if key not in allowed]
    if unknown:
        raise ConfigError(f"unknown config key 'early_stopping.{unknown[0]}'; allowed keys: {', '.join(allowed)}")
    rungs = values.get("rungs") or []
    if isinstance(rungs, (int, float)) and not isinstance(rungs, bool):
        rungs = [rungs]
    elif isinstance(rungs, str):  # a flag: --early_stopping.rungs 1,3
        rungs = [_parse_number(part) for part in rungs.split(",")]
    if not isinstance(rungs, (list, tuple)):
        raise ConfigError(f"early_stopping.rungs: expected a list of epochs (e.g. [1, 3]), got {rungs!r}")
    epochs = tuple(_number("early_stopping.rungs", epoch, integer=True, strictly_positive=True) for epoch in rungs)
    if list(epochs) != sorted(set(epochs)):
        raise ConfigError(f"early_stopping.rungs: epochs must increase, got {list(epochs)}")
    if epochs and epochs[-1] > training.epochs:
        raise ConfigError(f"early_stopping.rungs: rung {epochs[-1]} is beyond the training budget "
                          f"(training.epochs {training.epochs})")
    factor = _number("early_stopping.reduction_factor", values.get("reduction_factor", defaults.reduction_factor))
    if factor <= 1:
        raise ConfigError(f"early_stopping.reduction_factor: must be > 1 (keep the top 1/factor), got {factor:g}")
    if epochs and strategy.name == "keras-tuner" and strategy.keras_tuner.oracle == "hyperband":
        raise ConfigError("early_stopping.rungs: the keras-tuner hyperband oracle sets each trial's epochs itself; "
                          "use the bayesian oracle or no early_stopping")
    return EarlyStoppingSettings(
        rungs_epochs=epochs, reduction_factor=factor,
        tie_break=_choice("early_stopping.tie_break", values.get("tie_break", defaults.tie_break),
                          EARLY_STOPPING_TIE_BREAKS))


def _evaluator(values: Mapping[str, Any], strategy: StrategySettings,
               early_stopping: Mapping[str, Any]) -> EvaluatorSettings:
    """The ``evaluator`` section; a study recorded before it existed has only ``name: training``."""
    _known_keys("evaluator", values, ("name", "supernet"))
    name = _choice("evaluator.name", values.get("name", EvaluatorSettings().name), EVALUATOR_NAMES)
    supernet = values.get("supernet") or {}
    if not isinstance(supernet, Mapping):
        raise ConfigError(f"evaluator.supernet: expected a mapping of keys, got {supernet!r}")
    _known_keys("evaluator.supernet", supernet, ("folder", "bn_calibration_images", "training"))
    defaults = SupernetSettings()
    folder = _string("evaluator.supernet.folder", supernet.get("folder"), optional=True)
    training = supernet.get("training")
    settings = EvaluatorSettings(name=name, supernet=SupernetSettings(
        folder=None if folder is None else Path(folder),
        bn_calibration_images=_number("evaluator.supernet.bn_calibration_images",
                                      supernet.get("bn_calibration_images", defaults.bn_calibration_images),
                                      integer=True, minimum=1),
        training=defaults.training if training is None else build_dataclass(
            SupernetTrainConfig, _mapping("evaluator.supernet.training", training), "evaluator.supernet.training")))
    if settings.inherits_weights and early_stopping.get("rungs"):
        raise ConfigError("evaluator.name: 'supernet' trains no candidate, so early_stopping.rungs has nothing to "
                          "stop; set early_stopping.rungs: [] or evaluator.name: training")
    if settings.inherits_weights and strategy.name == "keras-tuner" and strategy.keras_tuner.oracle == "hyperband":
        raise ConfigError("evaluator.name: 'supernet' trains no candidate, but the keras-tuner hyperband oracle "
                          "budgets training epochs; use strategy.keras_tuner.oracle: bayesian")
    return settings


def _known_keys(section: str, values: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [key for key in values if key not in allowed]
    if unknown:
        raise ConfigError(f"unknown config key '{section}.{unknown[0]}'; allowed keys: {', '.join(allowed)}")


def _mapping(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of keys, got {value!r}")
    return value


def _parse_number(text: str) -> Any:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text.strip()


def _artifact_store(values: Mapping[str, Any]) -> ArtifactSettings:
    (url,) = _fields("artifact_store", values, "url")
    url = _string("artifact_store.url", url, optional=True)
    if url is not None and url.partition("://")[0] not in ARTIFACT_URL_SCHEMES:
        raise ConfigError(f"artifact_store.url: {url!r} is not file:///shared/path or s3://bucket (or null)")
    return ArtifactSettings(url=url)


# ---- another package's dataclass as a section --------------------------------------------------------


def build_dataclass(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """``cls(**values)`` with a :class:`ConfigError` that names the key: an unknown field (and the allowed
    ones), a value of the wrong type (``section.field: expected an integer``) or one ``cls`` refuses."""
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        allowed = [field.name for field in dataclasses.fields(cls) if field.init]
        for key in values:
            if key not in allowed:
                raise ConfigError(f"unknown config key '{section}.{key}'; allowed keys: {', '.join(allowed)}")
        values = {key: _typed_field(f"{section}.{key}", value, hints.get(key)) for key, value in values.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from None


def _typed_field(key: str, value: Any, hint: Any) -> Any:
    """``value`` checked against a plain field type (bool, int, float, str, optionally ``| None``)."""
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        others = [arg for arg in args if arg is not type(None)]
        if value is None or len(others) != 1:
            return value
        hint = others[0]
    if hint is bool:
        return _bool(key, value)
    if hint is int:
        return _number(key, value, integer=True)
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads `3e-3` (no dot) as a string
            value = _float_text(key, value)
        return _number(key, value)
    if hint is str:
        return _string(key, value)
    return value


def _float_text(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{key}: expected a number, got {text!r}") from None


# ---- values -------------------------------------------------------------------------------------------


def _section(tree: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = tree.get(name)
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a mapping of keys, got {value!r}")
    return value


def _fields(section: str, values: Any, *keys: str) -> tuple[Any, ...]:
    """The values of ``keys`` in a section, in order; a missing key (or section) is named."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{section}: expected a mapping with keys {', '.join(keys)}, got {values!r}")
    missing = [key for key in keys if key not in values]
    if missing:
        raise ConfigError(f"missing config key(s) {', '.join(f'{section}.{key}' for key in missing)}")
    return tuple(values[key] for key in keys)


def _choice(key: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _number(key: str, value: Any, *, minimum: float | None = None, integer: bool = False,
            optional: bool = False, strictly_positive: bool = False) -> Any:
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        extra = " or null" if optional else ""
        raise ConfigError(f"{key}: expected {kind}{extra}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: must be >= {minimum}, got {value!r}")
    if strictly_positive and value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def _string(key: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string{' or null' if optional else ''}, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value
