"""Optuna samplers for the search strategies.

- ``nsga2``: NSGA-II (Deb et al. 2002), Optuna's ``NSGAIISampler``; the default.
- ``tpe``: multi-objective TPE (Ozaki et al. 2020), Optuna's ``TPESampler`` on a multi-objective study.
- ``random``: ``RandomSampler``, the baseline every NAS paper should beat.
- ``reward``: single-objective TPE on the MnasNet reward (see :mod:`nas.trial.objectives`).
Both NSGA-II and TPE read the constraints set with ``Trial.set_constraint`` (Optuna >= 5), so
infeasible trials rank below feasible ones.
``keras-tuner`` is not an Optuna sampler; see :mod:`nas.strategies._keras_tuner`.
"""

from __future__ import annotations

import optuna

from nas.config.settings import SearchConfig

OPTUNA_STRATEGIES = ("nsga2", "tpe", "random", "reward")


def make_sampler(config: SearchConfig, *, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of ``config.strategy.name`` seeded with ``config.study.seed + seed_offset``.

    A resumed search passes the number of trials already in the study as ``seed_offset``: a sampler
    re-seeded with the original seed would propose the first architectures of the study again.
    """
    name, seed = config.strategy.name, config.study.seed + seed_offset
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=config.strategy.population_size, seed=seed)
    if name in ("tpe", "reward"):
        # Few startup trials: proxy searches run tens of trials, not hundreds.
        startup = max(2, min(10, config.strategy.n_trials // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"strategy {name!r} has no Optuna sampler; Optuna strategies: {', '.join(OPTUNA_STRATEGIES)}")
