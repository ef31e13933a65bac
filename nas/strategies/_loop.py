"""`nas search` orchestration: the study, the reference trial, the Optuna loop, resume.

The backends share :class:`SearchSetup` (space, reference, pipeline) and :func:`record_trial`,
which evaluates one architecture into one Optuna trial of the study. The local backend drives
``study.optimize``; :mod:`nas.strategies._ray` and :mod:`nas.strategies._keras_tuner` create trials
with :func:`start_external_trial` and finish them with ``study.tell``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import optuna
from optuna.trial import TrialState

from nas.record import study as record
from nas.config.settings import SearchConfig
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import CandidateEvaluator, FatalSearchError, TrialOutcome, TrialPipeline
from nas.strategies._progress import SearchProgress

logger = logging.getLogger(__name__)


class CandidateFailed(Exception):
    """Raised out of an Optuna objective so the trial is recorded as FAIL and the search goes on."""


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


@dataclasses.dataclass
class SearchSummary:
    """What a search leaves behind, for the CLI and scripts."""

    study_name: str
    storage_url: str
    study_dir: str
    n_done: int
    n_target: int
    new_trials: int
    recovered_trials: list[int]
    best_trials: list[int]
    reference_trial: int | None
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_evaluator(config: SearchConfig) -> CandidateEvaluator:
    """The real evaluators (TensorFlow is imported here, not before)."""
    from nas.trial.evaluation import EvaluatorAdapter

    return EvaluatorAdapter.from_config(config)


def build_space(config: SearchConfig, *, channels: int, num_classes: int) -> Any:
    """The configured search space, adapted to the dataset's channels and classes."""
    from search_spaces.space import SearchSpace

    space = SearchSpace.default() if config.search_space_source == "default" else SearchSpace.from_yaml(
        Path(config.search_space_source))
    return space.with_input(resolutions=config.search_space_resolutions, channels=channels, num_classes=num_classes)


def build_setup(config: SearchConfig, evaluator: CandidateEvaluator | None = None) -> SearchSetup:
    """Space, reference and pipeline for ``config``; ``evaluator`` defaults to the real evaluators."""
    evaluator = evaluator or make_evaluator(config)
    space = build_space(config, channels=evaluator.channels, num_classes=evaluator.num_classes)
    reference_arch, reference_params = None, None
    if config.reference_baseline:
        from search_spaces import get_baseline
        from search_spaces.space import SearchSpaceError

        try:
            baseline = get_baseline(config.reference_baseline)
        except KeyError as exc:
            from nas.config.settings import ConfigError

            raise ConfigError(f"reference.baseline: {exc.args[0]}") from None
        resolution = (config.search_space_resolutions or space.resolution)[0]
        reference_arch = baseline.with_input(
            resolution=resolution, channels=evaluator.channels, num_classes=evaluator.num_classes)
        try:
            reference_params = space.choices_of(reference_arch)
        except SearchSpaceError as exc:
            logger.info("reference %s is outside the search space (%s); it is evaluated as given",
                        config.reference_baseline, exc)
    objectives = ObjectiveSet.from_config(config)
    pipeline = TrialPipeline(evaluator, objectives, config.constraints, config.study.study_dir)
    return SearchSetup(config, space, objectives, pipeline, reference_arch, reference_params)


def study_attributes(config: SearchConfig) -> dict[str, Any]:
    return {
        record.STUDY_ATTR_CONFIG: config.as_dict(),
        record.STUDY_ATTR_OBJECTIVES: list(config.objectives),
        record.STUDY_ATTR_STRATEGY: config.strategy.name,
        record.STUDY_ATTR_STUDY_DIR: str(config.study.study_dir.resolve()),
        record.STUDY_ATTR_REFERENCE: config.reference_baseline,
    }


def open_search_study(setup: SearchSetup, sampler: optuna.samplers.BaseSampler | None) -> tuple[optuna.Study, bool]:
    config = setup.config
    return record.create_or_load_study(
        study_name=config.study.name,
        storage_url=config.storage_url,
        directions=setup.objectives.directions,
        value_names=setup.objectives.value_names,
        sampler=sampler,
        study_attrs=study_attributes(config),
    )


def reference_attrs(setup: SearchSetup) -> dict[str, Any]:
    return {record.ATTR_IS_REFERENCE: True, "reference_name": setup.config.reference_baseline}


def enqueue_reference(setup: SearchSetup, study: optuna.Study) -> bool:
    """Enqueue MobileNetV2 (the configured baseline) as the next trial unless the study has it."""
    if setup.reference_arch is None or record.has_reference(study):
        return False
    study.enqueue_trial(dict(setup.reference_params or {}), user_attrs=reference_attrs(setup))
    return True


# ---- one trial ---------------------------------------------------------------------------------


def architecture_for(setup: SearchSetup, trial: optuna.Trial) -> Any:
    """The trial's architecture: the reference when it is the reference trial, else sampled."""
    if trial.user_attrs.get(record.ATTR_IS_REFERENCE) and setup.reference_arch is not None:
        if setup.reference_params:
            sampled = setup.space.sample_optuna(trial)  # records the params, fixed by enqueue_trial
            if sampled != setup.reference_arch:
                logger.warning("reference params gave %s, not the reference; using the reference", sampled)
        return setup.reference_arch
    return setup.space.sample_optuna(trial)


def record_trial(setup: SearchSetup, study: optuna.Study, trial: optuna.Trial, arch: Any, *,
                 enqueue_on_interrupt: bool = True, epochs: int | None = None,
                 propose_s: float | None = None) -> TrialOutcome:
    """Evaluate ``arch`` as ``trial`` and write its user attributes and constraints into the study.

    ``timings_s`` gets ``propose`` (the sampler's time, when known), and ``bookkeeping``: everything
    of the trial that is neither the sampler nor an evaluator step (duplicate lookup, study writes).
    A :class:`FatalSearchError` (or Ctrl-C) marks the trial interrupted, enqueues it again with the
    same params (``enqueue_on_interrupt``; Ray Tune and KerasTuner re-propose on their own), and
    propagates.
    """
    start = time.perf_counter()
    trial.set_user_attr(record.ATTR_WORKER, record.worker_identity())
    previous = record.find_previous(study.get_trials(deepcopy=False), arch.to_string(), exclude=trial.number,
                                    proxy_epochs=epochs)
    # Attributes the trial already has (reference flag, retry_of, ray_trial_id, ...) are its own.
    carried = {k: v for k, v in trial.user_attrs.items() if k != record.ATTR_WORKER}
    try:
        outcome = setup.pipeline.run(arch, trial_number=trial.number, previous=previous, extra_attrs=carried,
                                     epochs=epochs)
    except (FatalSearchError, KeyboardInterrupt) as exc:
        trial.set_user_attr(record.ATTR_STATUS, record.STATUS_INTERRUPTED)
        trial.set_user_attr(record.ATTR_FAILURE_REASON, f"{type(exc).__name__}: {exc}")
        if enqueue_on_interrupt:
            study.enqueue_trial(dict(trial.params), user_attrs={**carried, record.ATTR_RETRY_OF: trial.number})
        raise
    for key, value in outcome.user_attrs.items():
        if key not in (record.ATTR_WORKER, "timings_s"):
            trial.set_user_attr(key, value)
    for key, value in outcome.constraints.items():
        trial.set_constraint(key, value)
    timings = dict(outcome.user_attrs.get("timings_s") or {})
    steps = sum(v for k, v in timings.items() if k not in ("bookkeeping", "total", "propose"))
    total = time.perf_counter() - start
    timings["bookkeeping"] = max(0.0, total - steps)
    if propose_s is not None:
        timings["propose"] = propose_s
    timings["total"] = total + (propose_s or 0.0)
    outcome.user_attrs["timings_s"] = timings
    trial.set_user_attr("timings_s", timings)
    return outcome


class OptunaObjective:
    """``study.optimize`` objective: one :func:`record_trial` per call."""

    def __init__(self, setup: SearchSetup, study: optuna.Study) -> None:
        self.setup = setup
        self.study = study

    def __call__(self, trial: optuna.Trial) -> list[float] | float:
        # The sampler works in ask() (relative sampling) and in the suggest calls of the space.
        started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        arch = architecture_for(self.setup, trial)
        propose_s = max(0.0, time.time() - started)
        outcome = record_trial(self.setup, self.study, trial, arch, propose_s=propose_s)
        if outcome.failed:
            raise CandidateFailed(outcome.user_attrs.get(record.ATTR_FAILURE_REASON) or "candidate failed")
        values = outcome.values or []
        return values if len(values) > 1 else values[0]


def start_external_trial(study: optuna.Study, *, params: Mapping[str, Any] | None = None,
                         distributions: Mapping[str, Any] | None = None,
                         user_attrs: Mapping[str, Any] | None = None) -> optuna.Trial:
    """A RUNNING trial of ``study`` for an architecture proposed by another tool (Ray Tune, KerasTuner)."""
    template = optuna.trial.create_trial(
        state=TrialState.RUNNING,
        params=dict(params or {}),
        distributions=dict(distributions or {}),
        user_attrs=dict(user_attrs or {}),
    )
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    return optuna.Trial(study, trial_id)


def run_external_trial(setup: SearchSetup, study: optuna.Study, arch: Any, *,
                       params: Mapping[str, Any] | None = None,
                       distributions: Mapping[str, Any] | None = None,
                       user_attrs: Mapping[str, Any] | None = None,
                       epochs: int | None = None) -> tuple[int, TrialOutcome]:
    """Evaluate an architecture proposed by another tool into a new trial; returns (number, outcome).

    On a fatal error or Ctrl-C the trial is told FAIL (status ``interrupted``) before it propagates.
    """
    trial = start_external_trial(study, params=params, distributions=distributions, user_attrs=user_attrs)
    try:
        outcome = record_trial(setup, study, trial, arch, enqueue_on_interrupt=False, epochs=epochs)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    if outcome.failed:
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, outcome.values)
    return trial.number, outcome


def evaluate_reference_first(setup: SearchSetup, study: optuna.Study, progress: SearchProgress) -> None:
    """Evaluate the reference in this process as the study's next trial, unless the study has one.

    For proposers that cannot be told to propose it (KerasTuner; Ray Tune when the reference is
    outside the search space). Same pipeline, same record.
    """
    if setup.reference_arch is None or record.has_reference(study):
        return
    distributions = None
    if setup.reference_params:
        choices = {c.name: c for c in setup.space.parameters()}
        distributions = {name: optuna.distributions.CategoricalDistribution(list(choices[name].values))
                         for name in setup.reference_params}
    number, _ = run_external_trial(setup, study, setup.reference_arch, params=setup.reference_params,
                                   distributions=distributions, user_attrs=reference_attrs(setup))
    finished = study.get_trials(deepcopy=False)[number]
    progress.trial_finished(finished, front_size=front_size(study, setup.objectives),
                            count_as_done=record.is_done(finished))


def front_size(study: optuna.Study, objectives: ObjectiveSet) -> int:
    if objectives.multi_objective:
        return len(study.best_trials)
    feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if not t.user_attrs.get("constraint_violations")]
    return 1 if feasible else 0


def best_trial_numbers(study: optuna.Study, objectives: ObjectiveSet) -> list[int]:
    completes = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completes:
        return []
    if objectives.multi_objective:
        return sorted(t.number for t in study.best_trials)
    feasible = [t for t in completes if not t.user_attrs.get("constraint_violations")]
    return [max(feasible, key=lambda t: t.value).number] if feasible else []


def summarize(study: optuna.Study, setup: SearchSetup, *, new_trials: int, recovered: list[int],
              elapsed_s: float) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    reference = next((t.number for t in trials if t.user_attrs.get(record.ATTR_IS_REFERENCE) and record.is_done(t)), None)
    return SearchSummary(
        study_name=study.study_name,
        storage_url=setup.config.storage_url,
        study_dir=str(setup.study_dir),
        n_done=record.count_done(trials),
        n_target=setup.config.strategy.n_trials,
        new_trials=new_trials,
        recovered_trials=recovered,
        best_trials=best_trial_numbers(study, setup.objectives),
        reference_trial=reference,
        elapsed_s=elapsed_s,
    )


# ---- the local backend -------------------------------------------------------------------------


def run_search(config: SearchConfig, *, evaluator: CandidateEvaluator | None = None,
               progress: str = "bar", stream: Any = None) -> SearchSummary:
    """Run (or resume) the search of ``config`` until the study holds ``strategy.n_trials`` results."""
    if config.backend.name == "ray":
        from nas.strategies._ray import run_ray_search

        return run_ray_search(config, evaluator=evaluator, progress=progress, stream=stream)
    if config.strategy.name == "keras-tuner":
        from nas.strategies._keras_tuner import run_keras_tuner_search

        return run_keras_tuner_search(config, evaluator=evaluator, progress=progress, stream=stream)
    return _run_optuna_search(config, evaluator=evaluator, progress=progress, stream=stream)


def prepare_study(config: SearchConfig, setup: SearchSetup, sampler: optuna.samplers.BaseSampler | None,
                  *, enqueue_retries: bool = True) -> tuple[optuna.Study, list[int]]:
    """Open or create the study, recover interrupted trials, enqueue the reference once."""
    # Our own line per trial replaces Optuna's; its warnings about failed trials would repeat it.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    setup.study_dir.mkdir(parents=True, exist_ok=True)
    study, created = open_search_study(setup, sampler)
    recovered = [] if created else record.recover_interrupted_trials(study, enqueue=enqueue_retries)
    if enqueue_retries:
        enqueue_reference(setup, study)
    if not created:
        logger.info("resuming study %s: %d of %d trials done", config.study.name,
                    record.count_done(study.get_trials(deepcopy=False)), config.strategy.n_trials)
    return study, recovered


def _run_optuna_search(config: SearchConfig, *, evaluator: CandidateEvaluator | None, progress: str,
                       stream: Any) -> SearchSummary:
    from nas.strategies._optuna import make_sampler

    start = time.perf_counter()
    setup = build_setup(config, evaluator)
    study, recovered = prepare_study(config, setup, sampler=None)
    study.sampler = make_sampler(config, seed_offset=len(study.get_trials(deepcopy=False)))
    done = record.count_done(study.get_trials(deepcopy=False))
    remaining = max(0, config.strategy.n_trials - done)
    new_trials = 0
    with SearchProgress(total=config.strategy.n_trials, done=done, mode=progress, stream=stream) as bar:
        def on_trial_end(study_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            nonlocal new_trials
            new_trials += 1
            bar.trial_finished(trial, front_size=front_size(study_, setup.objectives),
                               count_as_done=record.is_done(trial))
            # Several processes may share the study (journal / RDB storage): stop at the target.
            if record.count_done(study_.get_trials(deepcopy=False)) >= config.strategy.n_trials:
                study_.stop()

        if remaining:
            study.optimize(
                OptunaObjective(setup, study),
                n_trials=remaining,
                timeout=config.strategy.timeout_s,
                catch=(CandidateFailed,),
                callbacks=[on_trial_end],
                gc_after_trial=True,
            )
    return summarize(study, setup, new_trials=new_trials, recovered=recovered,
                     elapsed_s=time.perf_counter() - start)
