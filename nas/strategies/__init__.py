"""Search strategies and the one search loop they share.

``run_search(config)`` is the entry point of ``nas search``. It picks the strategy by name from
:data:`STRATEGIES` (``strategy.name``) or, for a distributed backend, from :data:`BACKENDS`
(``backend.name``), and runs it in the shared loop. A new strategy is one module holding one
:class:`Strategy` subclass, plus its line here. Modules are imported when their strategy is used,
so Ray and KerasTuner load only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from nas.config.settings import ConfigError, SearchConfig
from nas.strategies._base import Strategy
from nas.strategies._loop import SearchSummary, run_strategy
from nas.strategies._setup import SearchSetup, build_setup, make_evaluator
from nas.strategies._trials import SearchSession
from nas.trial.protocol import CandidateEvaluator

__all__ = [
    "BACKENDS",
    "STRATEGIES",
    "SearchSession",
    "SearchSetup",
    "SearchSummary",
    "Strategy",
    "build_setup",
    "make_evaluator",
    "make_strategy",
    "run_search",
    "strategy_class",
]

#: ``strategy.name`` -> ``module:class`` of the strategy (modules of this package).
STRATEGIES: dict[str, str] = {
    "nsga2": "nas.strategies._optuna:OptunaStrategy",
    "tpe": "nas.strategies._optuna:OptunaStrategy",
    "random": "nas.strategies._optuna:OptunaStrategy",
    "reward": "nas.strategies._optuna:OptunaStrategy",
    "keras-tuner": "nas.strategies._keras_tuner:KerasTunerStrategy",
}
#: ``backend.name`` -> the strategy that runs the search there (``local``: the strategy itself).
BACKENDS: dict[str, str] = {
    "ray": "nas.strategies._ray:RayTuneStrategy",
}


def strategy_class(name: str, *, backend: str = "local") -> type[Strategy]:
    """The :class:`Strategy` registered for strategy ``name`` on ``backend``."""
    if backend != "local":
        if backend not in BACKENDS:
            raise ConfigError(f"backend.name: {backend!r} is not one of local, {', '.join(BACKENDS)}")
        target = BACKENDS[backend]
    elif name in STRATEGIES:
        target = STRATEGIES[name]
    else:
        raise ConfigError(f"strategy.name: {name!r} is not one of {', '.join(STRATEGIES)}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_strategy(config: SearchConfig) -> Strategy:
    """The strategy of ``config`` (``strategy.name`` on ``backend.name``)."""
    return strategy_class(config.strategy.name, backend=config.backend.name)(config)


def run_search(config: SearchConfig, *, evaluator: CandidateEvaluator | None = None,
               progress: str = "bar", stream: Any = None) -> SearchSummary:
    """Run (or resume) the search of ``config`` until the study holds ``strategy.n_trials`` results.

    ``evaluator`` replaces the real evaluators (tests); ``progress`` is ``bar``, ``json`` or
    ``quiet``; ``stream`` is where progress goes (default: stderr, stdout for ``json``).
    """
    return run_strategy(make_strategy(config), evaluator=evaluator, progress=progress, stream=stream)
