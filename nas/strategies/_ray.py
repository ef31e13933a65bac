"""`nas search --backend ray`: trials as Ray Tune trials proposed by OptunaSearch (multi-objective).

- Proposals: ``ray.tune.search.optuna.OptunaSearch`` with the configured Optuna sampler and one
  metric/mode per objective. Its own Optuna study (``<study>:ray-proposer``) lives in the same
  storage, so the proposer remembers every earlier proposal across runs.
- Work: each Ray trial runs one trial of a :class:`~nas.strategies._trials.SearchSession` in a Ray
  worker, which writes the trial into the search study itself (same record as the local backend;
  ``ray_trial_id`` says where it came from, ``worker.ray_node_id`` on which node).
- A cluster (more than one Ray node) needs what every node reaches: a database storage
  (PostgreSQL), not a SQLite or journal file, and an artifact store (``artifact_store.url``); otherwise
  the search is refused before any trial (:meth:`RayTuneStrategy.check`). docs/cluster.md.
- Resources per trial from ``backend.cpus_per_trial`` / ``gpus_per_trial`` (TensorFlow's GPU memory
  growth is on in every trial process, so trials sharing a GPU do not fight for its memory); trials
  at once from :meth:`SearchConfig.concurrency` (profiler agents cap it; with the local profiler one
  per node unless ``backend.max_concurrent``), logged; crashed trials are retried by
  ``FailureConfig(max_failures)`` with ``retry_of`` naming the attempt they replace; trials Ray gave up
  on are reported (``nas search`` then exits non-zero); an interrupted run is restored with
  ``Tuner.restore`` and topped up to ``strategy.n_trials``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from ray.tune import Callback
from ray.tune.search.optuna import OptunaSearch

from nas.config.settings import ConfigError, SearchConfig
from nas.record import study as record
from nas.record.recovery import mark_interrupted, recover_stale_trials
from nas.record.storage import absolute_storage_url, is_file_storage, storage_from_url
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.strategies._base import Strategy
from nas.strategies._optuna import make_sampler
from nas.strategies._setup import SearchSetup, allow_gpu_memory_growth, build_setup
from nas.strategies._trials import SearchSession, reference_record
from nas.trial.protocol import CandidateEvaluator, FatalSearchError

logger = logging.getLogger(__name__)

_MODES = {"maximize": "max", "minimize": "min"}

# One setup per worker process: the evaluator loads TensorFlow and the dataset once.
_WORKER_SETUPS: dict[str, SearchSetup] = {}
# The session of the running search. Ray pickles callbacks into the experiment state (for
# Tuner.restore), and a tqdm bar does not survive that, so the callback looks it up here.
_CURRENT_SESSION: list[SearchSession] = []


def proposer_study_name(study_name: str) -> str:
    return study_name + record.PROPOSER_SUFFIX


def _load_study(config: SearchConfig) -> optuna.Study:
    return optuna.load_study(study_name=config.study.name, storage=storage_from_url(config.storage_url))


def _worker_setup(config: SearchConfig, evaluator: CandidateEvaluator | None) -> SearchSetup:
    key = f"{config.study.name}|{config.storage_url}"
    if key not in _WORKER_SETUPS:
        _WORKER_SETUPS[key] = build_setup(config, evaluator)
    return _WORKER_SETUPS[key]


def ray_trainable(ray_config: dict[str, Any], search_config: SearchConfig,
                  evaluator: CandidateEvaluator | None = None) -> None:
    """The Ray Tune function trainable: one architecture -> one trial of the search study."""
    from ray import tune

    allow_gpu_memory_growth()
    setup = _worker_setup(search_config, evaluator)
    session = SearchSession(setup, _load_study(search_config), evaluator=evaluator)
    recover_stale_trials(session.study)  # trials whose host stopped beating, whichever host that was
    # Ray trial ids repeat across experiments of one study: qualify them with the experiment name.
    context = tune.get_context()
    ray_trial_id = f"{context.get_experiment_name()}/{context.get_trial_id()}"
    finished, previous = _finish_retried_attempt(session, ray_trial_id)
    if finished:
        return
    retry_of = previous.number if previous is not None else None
    arch = setup.space.sample_ray(ray_config)
    params = {c.name: ray_config[c.name] for c in setup.space.parameters()}
    distributions = {c.name: optuna.distributions.CategoricalDistribution(list(c.values))
                     for c in setup.space.parameters()}
    own = TrialRecord(ray_trial_id=ray_trial_id, retry_of=retry_of)
    if previous is not None:
        retried_reference = TrialRecord.from_trial(previous).is_reference
    else:
        retried_reference = arch == setup.reference_arch and not record.has_reference(session.study)
    if setup.reference_arch is not None and retried_reference:
        own = reference_record(setup).replace(ray_trial_id=ray_trial_id, retry_of=retry_of)
    number, outcome = session.run_external_trial(arch, params=params, distributions=distributions, own=own)
    _report(setup, outcome.values, outcome.state, number)


def _finish_retried_attempt(session: SearchSession, ray_trial_id: str) -> tuple[bool, FrozenTrial | None]:
    """A FailureConfig retry of a Ray trial: ``(True, _)`` when an earlier attempt finished (its result
    is reported again); else ``(False, previous)``: the attempt its dead worker left is marked
    interrupted and this attempt, its retry, runs anew (``previous`` None: no earlier attempt)."""
    retry_of = None
    for previous in session.study.get_trials(deepcopy=False):
        if TrialRecord.from_trial(previous).ray_trial_id != ray_trial_id:
            continue
        if record.is_done(previous):
            _report(session.setup, previous.values, previous.state, previous.number)
            return True, None
        if previous.state == TrialState.RUNNING:
            mark_interrupted(session.study, previous, "its Ray worker died; retried by FailureConfig")
        retry_of = previous
    return False, retry_of


def _report(setup: SearchSetup, values: list[float] | None, state: TrialState, number: int) -> None:
    # A failed candidate reports nothing: the trainable just returns (so Ray does not retry it) and
    # ProposerSearch records the proposal as failed instead of learning from made-up numbers. So
    # does a trial stopped at a rung (early stopping): its accuracy is a partial training's.
    from ray import tune

    if state != TrialState.COMPLETE or values is None:
        return
    tune.report({"study_trial": number, **dict(zip(setup.objectives.value_names, values))})


class ProposerSearch(OptunaSearch):
    """``OptunaSearch`` that tells Optuna FAIL for a trial that ended without objective values."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        if not result or any(result.get(m) is None for m in metrics):
            return super().on_trial_complete(trial_id, None, True)
        return super().on_trial_complete(trial_id, result, error)


def _make_proposer(session: SearchSession) -> ProposerSearch:
    """OptunaSearch with the configured sampler; MobileNetV2's choices as its first point."""
    config, objectives = session.config, session.setup.objectives
    multi = objectives.multi_objective
    return ProposerSearch(
        metric=objectives.value_names if multi else objectives.value_names[0],
        mode=[_MODES[d] for d in objectives.directions] if multi else _MODES[objectives.directions[0]],
        sampler=make_sampler(config, seed_offset=len(session.study.get_trials(deepcopy=False))),
        study_name=proposer_study_name(config.study.name),
        storage=storage_from_url(config.storage_url),
        points_to_evaluate=_reference_point(session),
    )


def _reference_point(session: SearchSession) -> list[dict[str, Any]] | None:
    """MobileNetV2's choices as OptunaSearch's first point (when it is a point of the space)."""
    setup = session.setup
    if setup.reference_arch is None or setup.reference_params is None or record.has_reference(session.study):
        return None
    return [dict(setup.reference_params)]


def _experiments(ray_dir: Path) -> list[Path]:
    return sorted((p for p in ray_dir.glob("search-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))


def _fatal_reason(study: optuna.Study, first_index: int) -> str | None:
    """The reason of a fatal stop in this run (a trial interrupted by a FatalSearchError), if any."""
    for trial in study.get_trials(deepcopy=False)[first_index:]:
        trial_record = TrialRecord.from_trial(trial)
        reason = trial_record.failure_reason or ""
        if trial_record.status == TrialStatus.INTERRUPTED and reason.startswith(FatalSearchError.__name__):
            return reason.split(": ", 1)[-1]
    return None


@contextlib.contextmanager
def _ray_session(address: str | None) -> Iterator[None]:
    """Ray, started here (and shut down after) unless the caller already started it."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _ray_attached() -> bool:
    import ray

    return ray.is_initialized()


def _alive_nodes() -> int:
    import ray

    return sum(1 for node in ray.nodes() if node.get("Alive"))


class RayTuneStrategy(Strategy):
    """Ray Tune runs the trials on a cluster; OptunaSearch proposes with the configured sampler."""

    names = ("ray",)

    def __init__(self, config: SearchConfig) -> None:
        # Workers run in their trial folders: give them absolute paths.
        super().__init__(dataclasses.replace(config, study=dataclasses.replace(
            config.study, runs_dir=config.study.runs_dir.resolve(),
            storage=absolute_storage_url(config.storage_url))))

    def check(self) -> None:
        """Refuse, before any trial, what only one machine can share when Ray runs on several nodes:
        a SQLite or journal file as the storage, the trial folder as the only artifact store."""
        config = self.config
        if not is_file_storage(config.storage_url) and config.artifact_store.url:
            return
        if not _ray_attached() and not config.backend.address:
            return  # Ray will start here: one node
        with _ray_session(config.backend.address):
            nodes = _alive_nodes()
        if nodes <= 1:
            return
        if is_file_storage(config.storage_url):
            raise ConfigError(
                f"study.storage: Ray runs on {nodes} nodes, and {config.storage_url} is a file on one machine: "
                "trials on other nodes would write a study of their own. Use a database every node reaches, "
                "study.storage: postgresql://user@host/db (password in $NAS_STORAGE_PASSWORD_FILE; docs/cluster.md)")
        raise ConfigError(
            f"artifact_store.url: Ray runs on {nodes} nodes, and without an artifact store each trial's models stay "
            "on the disk of the node that ran it. Set artifact_store.url: file:///shared/path (a folder every node "
            "mounts) or s3://bucket (docs/cluster.md)")

    def proposes_reference(self, setup: SearchSetup) -> bool:
        # Inside the space OptunaSearch proposes it first; outside, Ray Tune cannot propose it.
        return setup.reference_params is not None

    def search(self, session: SearchSession, budget: int) -> None:
        # A failed candidate ends without objective values on purpose (see _report / ProposerSearch).
        os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
        first_new = len(session.study.get_trials(deepcopy=False))
        with _ray_session(self.config.backend.address):
            _CURRENT_SESSION.append(session)
            try:
                self._fit(session)
            finally:
                _CURRENT_SESSION.clear()
        fatal = _fatal_reason(_load_study(self.config), first_new)
        if fatal:
            raise FatalSearchError(fatal)

    def _concurrency(self) -> int:
        concurrency = self.config.concurrency(ray_nodes=_alive_nodes())
        logger.info("Ray Tune: at most %d trial(s) at once: %s", concurrency.max_trials, concurrency.reason)
        return concurrency.max_trials

    def _fit(self, session: SearchSession) -> None:
        """Restore the last experiment if it can be, then a new experiment for what is missing."""
        from ray import tune

        config = self.config
        ray_dir = (session.setup.study_dir / "ray").resolve()
        ray_dir.mkdir(parents=True, exist_ok=True)
        trainable = tune.with_resources(
            tune.with_parameters(ray_trainable, search_config=config, evaluator=session.evaluator),
            {"cpu": config.backend.cpus_per_trial, "gpu": config.backend.gpus_per_trial},
        )
        experiments = _experiments(ray_dir)
        if experiments and tune.Tuner.can_restore(str(experiments[-1])):
            logger.info("restoring Ray Tune experiment %s", experiments[-1])
            self._note_errors(tune.Tuner.restore(str(experiments[-1]), trainable=trainable, resume_unfinished=True,
                                                 resume_errored=False).fit())
        remaining = session.remaining()
        if remaining <= 0:
            return
        index = int(experiments[-1].name.split("-")[1]) + 1 if experiments else 0
        results = tune.Tuner(
            trainable,
            param_space=session.setup.space.ray_param_space(),
            tune_config=tune.TuneConfig(
                search_alg=_make_proposer(session),
                num_samples=remaining,
                max_concurrent_trials=self._concurrency(),
                time_budget_s=config.strategy.timeout_s,
                # One worker process keeps TensorFlow and the dataset loaded across trials.
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=f"search-{index}",
                storage_path=str(ray_dir),
                failure_config=tune.FailureConfig(max_failures=config.backend.max_failures),
                callbacks=[_ProgressCallback(config)],
                verbose=0,
            ),
        ).fit()
        self._note_errors(results)

    def _note_errors(self, results: Any) -> None:
        """Ray trials that errored after every ``FailureConfig`` retry: the search reports them."""
        errors = list(results.errors)
        if errors:
            first = str(errors[0]).strip().splitlines()[-1] if str(errors[0]).strip() else type(errors[0]).__name__
            self.problems.append(f"{len(errors)} Ray trial(s) errored after {self.config.backend.max_failures} "
                                 f"retries (first: {first})")


class _ProgressCallback(Callback):
    """Reports each finished Ray trial from the study record (driver side)."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config

    def _report(self, trial: Any) -> None:
        logger.debug("ray trial %s/%s finished", trial.experiment_dir_name, trial.trial_id)
        study = _load_study(self.config)
        ray_trial_id = f"{trial.experiment_dir_name}/{trial.trial_id}"
        mine = [t for t in study.get_trials(deepcopy=False)
                if TrialRecord.from_trial(t).ray_trial_id == ray_trial_id and t.state.is_finished()]
        if mine and _CURRENT_SESSION:
            _CURRENT_SESSION[-1].report(mine[-1], study=study)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._report(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._report(trial)
