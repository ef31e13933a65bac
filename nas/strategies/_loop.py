"""The one search loop every strategy shares (`nas search`).

Setup, opening or resuming the study, recovering trials a dead process left RUNNING, the
MobileNetV2 reference first, progress, the stop at ``strategy.n_trials`` and the summary are done
here once; a :class:`~nas.strategies._base.Strategy` only proposes architectures and runs them
through the :class:`~nas.strategies._trials.SearchSession` it is handed. No strategy imports this
module.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import optuna
from optuna.trial import TrialState

from nas.config.settings import SearchConfig
from nas.record import study as record
from nas.record.recovery import recover_interrupted_trials
from nas.record.storage import storage_from_url
from nas.record.study import StudyAttributes
from nas.record.trial_record import TrialRecord
from nas.strategies._base import Strategy
from nas.strategies._progress import SearchProgress
from nas.strategies._setup import SearchSetup, build_setup
from nas.strategies._trials import SearchSession, reference_record, user_attrs_of
from nas.trial.objectives import ObjectiveSet
from nas.trial.protocol import CandidateEvaluator

logger = logging.getLogger(__name__)


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
    #: Why the study holds fewer results than asked, or trials the tool gave up on (empty: all well).
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_strategy(strategy: Strategy, *, evaluator: CandidateEvaluator | None = None,
                 progress: str = "bar", stream: Any = None) -> SearchSummary:
    """Run (or resume) the search of ``strategy.config`` until the study holds ``strategy.n_trials`` results."""
    start = time.perf_counter()
    config = strategy.config
    strategy.check()
    setup = build_setup(config, evaluator)
    study, recovered = prepare_study(setup, strategy)
    finished_before = _finished_numbers(study)
    session = SearchSession(setup, study, evaluator=evaluator)
    with SearchProgress(total=config.strategy.n_trials, done=session.n_done(), mode=progress,
                        stream=stream) as bar:
        session.progress = bar
        if not strategy.proposes_reference(setup):
            # The strategy cannot propose it: evaluate it here, first, by the same pipeline.
            session.evaluate_reference_first()
        remaining = session.remaining()
        if remaining:
            strategy.search(session, remaining)
    # Trials may have been written by other processes (Ray workers): read the study afresh.
    study = optuna.load_study(study_name=study.study_name, storage=storage_from_url(config.storage_url))
    new_trials = len(_finished_numbers(study) - finished_before)
    summary = summarize(study, setup, new_trials=new_trials, recovered=recovered,
                        elapsed_s=time.perf_counter() - start)
    summary.problems = shortfall(summary, strategy)
    return summary


def shortfall(summary: SearchSummary, strategy: Strategy) -> list[str]:
    """Why a search ends short of its target, or with trials its tool gave up on (empty: it did not)."""
    problems = []
    if summary.n_done < summary.n_target:
        why = f"only {summary.n_done} of {summary.n_target} trials done"
        timeout_s = strategy.config.strategy.timeout_s
        if timeout_s is not None and summary.elapsed_s >= timeout_s:
            why += f" (strategy.timeout_s {timeout_s:g} s reached)"
        problems.append(why)
    return problems + list(strategy.problems)


def _finished_numbers(study: optuna.Study) -> set[int]:
    return {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}


# ---- the study ---------------------------------------------------------------------------------
def study_attributes(config: SearchConfig) -> StudyAttributes:
    """What the study records about the search (``value_names`` are added when it is created)."""
    return StudyAttributes(
        config=config.as_dict(),
        objectives=tuple(config.objectives),
        strategy=config.strategy.name,
        reference_baseline=config.reference_baseline,
        study_dir=config.study.study_dir.resolve(),
    )


def open_search_study(setup: SearchSetup) -> tuple[optuna.Study, bool]:
    """The study of ``setup`` (created, or loaded when it exists with the same objectives)."""
    config = setup.config
    return record.create_or_load_study(
        study_name=config.study.name,
        storage_url=config.storage_url,
        directions=setup.objectives.directions,
        value_names=setup.objectives.value_names,
        sampler=None,
        study_attrs=study_attributes(config),
    )


def prepare_study(setup: SearchSetup, strategy: Strategy) -> tuple[optuna.Study, list[int]]:
    """Open or create the study, recover interrupted trials, enqueue the reference once.

    Retries of interrupted trials and the reference are enqueued only for strategies that read the
    study's queue; the others re-propose on their own.
    """
    # Our own line per trial replaces Optuna's; its warnings about failed trials would repeat it.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    setup.study_dir.mkdir(parents=True, exist_ok=True)
    study, created = open_search_study(setup)
    recovered = [] if created else recover_interrupted_trials(study, enqueue=strategy.uses_study_queue)
    if strategy.uses_study_queue:
        enqueue_reference(setup, study)
    if not created:
        logger.info("resuming study %s: %d of %d trials done", setup.config.study.name,
                    record.count_done(study.get_trials(deepcopy=False)), setup.config.strategy.n_trials)
    return study, recovered


def enqueue_reference(setup: SearchSetup, study: optuna.Study) -> bool:
    """Enqueue MobileNetV2 (the configured baseline) as the next trial unless the study has it."""
    if setup.reference_arch is None or record.has_reference(study):
        return False
    study.enqueue_trial(dict(setup.reference_params or {}),
                        user_attrs=user_attrs_of(reference_record(setup), own_only=True))
    return True


# ---- the summary -------------------------------------------------------------------------------
def best_trial_numbers(study: optuna.Study, objectives: ObjectiveSet) -> list[int]:
    """The feasible Pareto front (multi-objective), or the feasible trial of highest reward."""
    completes = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completes:
        return []
    if objectives.multi_objective:
        return sorted(t.number for t in study.best_trials)
    feasible = [t for t in completes if not TrialRecord.from_trial(t).constraint_violations]
    return [max(feasible, key=lambda t: t.value).number] if feasible else []


def summarize(study: optuna.Study, setup: SearchSetup, *, new_trials: int, recovered: list[int],
              elapsed_s: float) -> SearchSummary:
    trials = study.get_trials(deepcopy=False)
    reference = next((t.number for t in trials if TrialRecord.from_trial(t).is_reference and record.is_done(t)),
                     None)
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
