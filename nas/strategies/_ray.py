"""`nas search --backend ray`: trials as Ray Tune trials proposed by OptunaSearch (multi-objective).

- Proposals: ``ray.tune.search.optuna.OptunaSearch`` with the configured Optuna sampler and one
  metric/mode per objective. Its own Optuna study (``<study>:ray-proposer``) lives in the same
  storage, so the proposer remembers every earlier proposal across runs.
- Work: each Ray trial runs :func:`nas.strategies._loop.record_trial` in a Ray worker, which writes the trial
  into the search study itself (same record as the local backend; ``ray_trial_id`` says where it
  came from). The storage must be reachable from every node (PostgreSQL on a cluster).
- Resources per trial from ``backend.cpus_per_trial`` / ``gpus_per_trial``; at most
  ``config.max_concurrent_trials`` at once (never more than profiler agents); crashed trials are
  retried by ``FailureConfig(max_failures)``; an interrupted run is restored with
  ``Tuner.restore`` and topped up to ``strategy.n_trials``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune import Callback
from ray.tune.search.optuna import OptunaSearch

from nas.record import study as record
from nas.config.settings import SearchConfig
from nas.trial.pipeline import CandidateEvaluator
from nas.strategies._progress import SearchProgress
from nas.strategies._loop import (
    SearchSetup,
    SearchSummary,
    build_setup,
    evaluate_reference_first,
    front_size,
    prepare_study,
    reference_attrs,
    run_external_trial,
    summarize,
)

logger = logging.getLogger(__name__)

ATTR_RAY_TRIAL_ID = "ray_trial_id"
_MODES = {"maximize": "max", "minimize": "min"}

# One setup per worker process: the evaluator loads TensorFlow and the dataset once.
_WORKER_SETUPS: dict[str, SearchSetup] = {}


def proposer_study_name(study_name: str) -> str:
    return study_name + record.PROPOSER_SUFFIX


def _worker_setup(config: SearchConfig, evaluator: CandidateEvaluator | None) -> SearchSetup:
    key = f"{config.study.name}|{config.storage_url}"
    if key not in _WORKER_SETUPS:
        _WORKER_SETUPS[key] = build_setup(config, evaluator)
    return _WORKER_SETUPS[key]


def ray_trainable(ray_config: dict[str, Any], search_config: SearchConfig,
                  evaluator: CandidateEvaluator | None = None) -> None:
    """The Ray Tune function trainable: one architecture -> one trial of the search study."""
    from ray import tune

    setup = _worker_setup(search_config, evaluator)
    study = optuna.load_study(study_name=search_config.study.name,
                              storage=record.storage_from_url(search_config.storage_url))
    # Ray trial ids repeat across experiments of one study: qualify them with the experiment name.
    context = tune.get_context()
    ray_trial_id = f"{context.get_experiment_name()}/{context.get_trial_id()}"

    # A FailureConfig retry of this Ray trial: reuse what an earlier attempt finished.
    for previous in study.get_trials(deepcopy=False):
        if previous.user_attrs.get(ATTR_RAY_TRIAL_ID) != ray_trial_id:
            continue
        if record.is_done(previous):
            _report(setup, previous.values, previous.state, previous.number)
            return
        if previous.state == TrialState.RUNNING:
            storage = study._storage
            storage.set_trial_user_attr(previous._trial_id, record.ATTR_STATUS, record.STATUS_INTERRUPTED)
            storage.set_trial_user_attr(previous._trial_id, record.ATTR_FAILURE_REASON,
                                        "its Ray worker died; retried by FailureConfig")
            storage.set_trial_state_values(previous._trial_id, TrialState.FAIL)

    arch = setup.space.sample_ray(ray_config)
    params = {c.name: ray_config[c.name] for c in setup.space.parameters()}
    distributions = {c.name: optuna.distributions.CategoricalDistribution(list(c.values))
                     for c in setup.space.parameters()}
    attrs: dict[str, Any] = {ATTR_RAY_TRIAL_ID: ray_trial_id}
    if setup.reference_arch is not None and arch == setup.reference_arch and not record.has_reference(study):
        attrs.update(reference_attrs(setup))
    number, outcome = run_external_trial(setup, study, arch, params=params, distributions=distributions,
                                         user_attrs=attrs)
    _report(setup, outcome.values, TrialState.FAIL if outcome.failed else TrialState.COMPLETE, number)


def _report(setup: SearchSetup, values: list[float] | None, state: TrialState, number: int) -> None:
    # A failed candidate reports nothing: the trainable just returns (so Ray does not retry it) and
    # ProposerSearch records the proposal as failed instead of learning from made-up numbers.
    from ray import tune

    if state == TrialState.FAIL or values is None:
        return
    tune.report({"study_trial": number, **dict(zip(setup.objectives.value_names, values))})


class ProposerSearch(OptunaSearch):
    """``OptunaSearch`` that tells Optuna FAIL for a trial that ended without objective values."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        if not result or any(result.get(m) is None for m in metrics):
            return super().on_trial_complete(trial_id, None, True)
        return super().on_trial_complete(trial_id, result, error)


def _experiments(ray_dir: Path) -> list[Path]:
    return sorted((p for p in ray_dir.glob("search-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))


def run_ray_search(config: SearchConfig, *, evaluator: CandidateEvaluator | None = None,
                   progress: str = "bar", stream: Any = None) -> SearchSummary:
    """Run (or resume) the search on Ray Tune until the study holds ``strategy.n_trials`` results."""
    import os

    # A failed candidate ends without objective values on purpose (see _report / ProposerSearch).
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    import ray
    from ray import tune

    from nas.strategies._optuna import make_sampler

    start = time.perf_counter()
    # Workers run in their trial folders: give them absolute paths.
    config = dataclasses.replace(config, study=dataclasses.replace(
        config.study, runs_dir=config.study.runs_dir.resolve(),
        storage=record.absolute_storage_url(config.storage_url)))
    setup = build_setup(config, evaluator)
    study, recovered = prepare_study(config, setup, sampler=None, enqueue_retries=False)
    started_ray = False
    if not ray.is_initialized():
        if config.backend.address:
            ray.init(address=config.backend.address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
        started_ray = True
    try:
        ray_dir = (setup.study_dir / "ray").resolve()
        ray_dir.mkdir(parents=True, exist_ok=True)
        trainable = tune.with_resources(
            tune.with_parameters(ray_trainable, search_config=config, evaluator=evaluator),
            {"cpu": config.backend.cpus_per_trial, "gpu": config.backend.gpus_per_trial},
        )
        done0 = record.count_done(study.get_trials(deepcopy=False))
        new_before = len(study.get_trials(deepcopy=False))
        with SearchProgress(total=config.strategy.n_trials, done=done0, mode=progress, stream=stream) as bar:
            if setup.reference_params is None:
                # Outside the space Ray Tune cannot propose it: evaluate it here, first, the same way.
                evaluate_reference_first(setup, study, bar)
            _CURRENT_PROGRESS.append(bar)
            callback = _ProgressCallback(config, setup.objectives)
            experiments = _experiments(ray_dir)
            if experiments and tune.Tuner.can_restore(str(experiments[-1])):
                logger.info("restoring Ray Tune experiment %s", experiments[-1])
                tuner = tune.Tuner.restore(str(experiments[-1]), trainable=trainable,
                                           resume_unfinished=True, resume_errored=False)
                tuner.fit()
            remaining = config.strategy.n_trials - record.count_done(study.get_trials(deepcopy=False))
            if remaining > 0:
                index = int(experiments[-1].name.split("-")[1]) + 1 if experiments else 0
                searcher = ProposerSearch(
                    metric=setup.objectives.value_names if setup.objectives.multi_objective
                    else setup.objectives.value_names[0],
                    mode=[_MODES[d] for d in setup.objectives.directions] if setup.objectives.multi_objective
                    else _MODES[setup.objectives.directions[0]],
                    sampler=make_sampler(config, seed_offset=len(study.get_trials(deepcopy=False))),
                    study_name=proposer_study_name(config.study.name),
                    storage=record.storage_from_url(config.storage_url),
                    points_to_evaluate=_reference_point(setup, study),
                )
                tuner = tune.Tuner(
                    trainable,
                    param_space=setup.space.ray_param_space(),
                    tune_config=tune.TuneConfig(
                        search_alg=searcher,
                        num_samples=remaining,
                        max_concurrent_trials=config.max_concurrent_trials,
                        time_budget_s=config.strategy.timeout_s,
                        # One worker process keeps TensorFlow and the dataset loaded across trials.
                        reuse_actors=True,
                    ),
                    run_config=tune.RunConfig(
                        name=f"search-{index}",
                        storage_path=str(ray_dir),
                        failure_config=tune.FailureConfig(max_failures=config.backend.max_failures),
                        callbacks=[callback],
                        verbose=0,
                    ),
                )
                tuner.fit()
        _CURRENT_PROGRESS.clear()
        study = optuna.load_study(study_name=config.study.name, storage=record.storage_from_url(config.storage_url))
        fatal = _fatal_reason(study, new_before)
        if fatal:
            from nas.trial.pipeline import FatalSearchError

            raise FatalSearchError(fatal)
        new_trials = len(study.get_trials(deepcopy=False)) - new_before
        return summarize(study, setup, new_trials=new_trials, recovered=recovered,
                         elapsed_s=time.perf_counter() - start)
    finally:
        if started_ray:
            ray.shutdown()


def _reference_point(setup: SearchSetup, study: optuna.Study) -> list[dict[str, Any]] | None:
    """MobileNetV2's choices as OptunaSearch's first point (when it is a point of the space)."""
    if setup.reference_arch is None or record.has_reference(study) or setup.reference_params is None:
        return None
    return [dict(setup.reference_params)]


def _fatal_reason(study: optuna.Study, first_index: int) -> str | None:
    """The reason of a fatal stop in this run (a trial interrupted by a FatalSearchError), if any."""
    for trial in study.get_trials(deepcopy=False)[first_index:]:
        reason = trial.user_attrs.get(record.ATTR_FAILURE_REASON) or ""
        if trial.user_attrs.get(record.ATTR_STATUS) == record.STATUS_INTERRUPTED and reason.startswith("FatalSearchError"):
            return reason.split(": ", 1)[-1]
    return None


# The progress bar of the running search. Ray pickles callbacks into the experiment state (for
# Tuner.restore), and a tqdm bar does not survive that, so the callback looks it up here.
_CURRENT_PROGRESS: list[SearchProgress] = []


class _ProgressCallback(Callback):
    """Reports each finished Ray trial from the study record (driver side)."""

    def __init__(self, config: SearchConfig, objectives: Any) -> None:
        self.config = config
        self.objectives = objectives

    def _report(self, trial: Any) -> None:
        logger.debug("ray trial %s/%s finished", trial.experiment_dir_name, trial.trial_id)
        study = optuna.load_study(study_name=self.config.study.name,
                                  storage=record.storage_from_url(self.config.storage_url))
        mine = [t for t in study.get_trials(deepcopy=False)
                if t.user_attrs.get(ATTR_RAY_TRIAL_ID) == f"{trial.experiment_dir_name}/{trial.trial_id}"
                and t.state.is_finished()]
        if mine and _CURRENT_PROGRESS:
            _CURRENT_PROGRESS[-1].trial_finished(mine[-1], front_size=front_size(study, self.objectives),
                                                 count_as_done=record.is_done(mine[-1]))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._report(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._report(trial)
