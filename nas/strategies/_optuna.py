"""Optuna's samplers as search strategies, through the ask-and-tell interface.

- ``nsga2``: NSGA-II (Deb et al. 2002), Optuna's ``NSGAIISampler``; the default.
- ``tpe``: multi-objective TPE (Ozaki et al. 2020), Optuna's ``TPESampler`` on a multi-objective study.
- ``random``: ``RandomSampler``, the baseline every NAS paper should beat.
- ``reward``: single-objective TPE on the MnasNet reward (see :mod:`nas.trial.objectives`).
Both NSGA-II and TPE read the constraints set with ``Trial.set_constraint`` (Optuna >= 5), so
infeasible trials rank below feasible ones. The sampler is the study's own: ``study.ask()`` pops the
enqueued trials (the reference, retries of interrupted trials) before it samples.
Ray Tune uses the same samplers through ``OptunaSearch`` (:mod:`nas.strategies._ray`).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

import optuna

from nas.config.settings import SearchConfig
from nas.record.trial_record import TrialRecord
from nas.strategies._base import Strategy
from nas.strategies._setup import SearchSetup
from nas.strategies._trials import SearchSession

logger = logging.getLogger(__name__)

OPTUNA_STRATEGIES = ("nsga2", "tpe", "random", "reward")


class PicklableNSGAIISampler(optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II sampler that pickles: Ray Tune pickles its searcher with the sampler, and
    Optuna 5.1's genetic-algorithm base holds a ``threading.Lock`` (``_thread_lock``), which does
    not. The lock guards a per-process cache, so each copy gets a fresh one."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_thread_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()


def make_sampler(config: SearchConfig, *, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of ``config.strategy.name`` seeded with ``config.study.seed + seed_offset``.

    A resumed search passes the number of trials already in the study as ``seed_offset``: a sampler
    re-seeded with the original seed would propose the first architectures of the study again.
    """
    name, seed = config.strategy.name, config.study.seed + seed_offset
    if name == "nsga2":
        return PicklableNSGAIISampler(population_size=config.strategy.population_size, seed=seed)
    if name in ("tpe", "reward"):
        # Few startup trials: proxy searches run tens of trials, not hundreds.
        startup = max(2, min(10, config.strategy.n_trials // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"strategy {name!r} has no Optuna sampler; Optuna strategies: {', '.join(OPTUNA_STRATEGIES)}")


def architecture_for(setup: SearchSetup, trial: optuna.Trial) -> Any:
    """The trial's architecture: the reference when it is the reference trial, else sampled."""
    if TrialRecord.from_user_attrs(trial.user_attrs).is_reference and setup.reference_arch is not None:
        if setup.reference_params:
            sampled = setup.space.sample_optuna(trial)  # records the params, fixed by enqueue_trial
            if sampled != setup.reference_arch:
                logger.warning("reference params gave %s, not the reference; using the reference", sampled)
        return setup.reference_arch
    return setup.space.sample_optuna(trial)


class OptunaStrategy(Strategy):
    """An Optuna sampler proposes (``study.ask``); each trial is told its result (``study.tell``)."""

    names = OPTUNA_STRATEGIES
    uses_study_queue = True

    def search(self, session: SearchSession, budget: int) -> None:
        study = session.study
        study.sampler = make_sampler(self.config, seed_offset=len(study.get_trials(deepcopy=False)))
        timeout_s = self.config.strategy.timeout_s
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for _ in range(budget):
            if deadline is not None and time.monotonic() >= deadline:
                logger.info("strategy.timeout_s (%ss) reached", timeout_s)
                break
            start = time.perf_counter()
            trial = study.ask()  # relative sampling happens here, the rest in the space's suggest calls
            arch = architecture_for(session.setup, trial)
            session.run_trial(trial, arch, propose_s=time.perf_counter() - start, retry_on_interrupt=True)
            gc.collect()  # as study.optimize(gc_after_trial=True): Keras models of the trial go now
            # Several processes may share the study (journal / RDB storage): stop at the target.
            if session.target_reached():
                break
