"""The configuration of a search: typed settings, one loader, validation by section.

``load_config(path, overrides)`` reads ``default_search.yaml``, a user YAML and dotted overrides
(:mod:`~nas.config.loader`), checks them (:mod:`~nas.config.validate`) and returns a frozen
:class:`~nas.config.settings.SearchConfig`.
"""

from nas.config.loader import FREE_FORM_SECTIONS, default_config_dict, leaf_keys, load_config, parse_override
from nas.config.settings import (
    ARTIFACT_URL_SCHEMES,
    BACKEND_NAMES,
    EVALUATOR_NAMES,
    KERAS_TUNER_ORACLES,
    LATENCY_SOURCES,
    OBJECTIVE_NAMES,
    PROFILER_KINDS,
    PROFILER_TOKEN_ENV,
    STRATEGY_NAMES,
    ArtifactSettings,
    BackendSettings,
    Concurrency,
    ConfigError,
    ConstraintSettings,
    EvaluatorSettings,
    KerasTunerSettings,
    LatencySettings,
    ProfilerSettings,
    RewardSettings,
    SearchConfig,
    StrategySettings,
    StudySettings,
    SupernetSettings,
    read_profiler_token,
)
from nas.config.validate import build_config, build_dataclass

__all__ = [
    "ARTIFACT_URL_SCHEMES",
    "BACKEND_NAMES",
    "EVALUATOR_NAMES",
    "FREE_FORM_SECTIONS",
    "KERAS_TUNER_ORACLES",
    "LATENCY_SOURCES",
    "OBJECTIVE_NAMES",
    "PROFILER_KINDS",
    "PROFILER_TOKEN_ENV",
    "STRATEGY_NAMES",
    "ArtifactSettings",
    "BackendSettings",
    "Concurrency",
    "ConfigError",
    "ConstraintSettings",
    "EvaluatorSettings",
    "KerasTunerSettings",
    "LatencySettings",
    "ProfilerSettings",
    "RewardSettings",
    "SearchConfig",
    "StrategySettings",
    "StudySettings",
    "SupernetSettings",
    "build_config",
    "build_dataclass",
    "default_config_dict",
    "leaf_keys",
    "load_config",
    "parse_override",
    "read_profiler_token",
]
