"""One trial of the study, for every strategy: evaluate an architecture, write its record, tell it.

A strategy gets a :class:`SearchSession` from the loop. The session runs a proposed architecture
through the trial pipeline, writes the :class:`~nas.record.trial_record.TrialRecord` into the
Optuna trial (user attributes and named constraints), tells the study the result and reports it to
the progress display. Trials proposed by another tool (Ray Tune, KerasTuner, the reference
evaluated first) start as RUNNING trials of the study (:func:`start_external_trial`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.record import study as record
from nas.record.artifacts import upload_trial_artifacts
from nas.record.recovery import heartbeat, mark_interrupted, worker_identity
from nas.record.trial_record import OWN_FIELDS, TrialRecord, set_fields
from nas.strategies._progress import SearchProgress
from nas.strategies._rungs import StudyRungBoard
from nas.strategies._setup import SearchSetup
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialOutcome
from nas.trial.protocol import CandidateEvaluator, FatalSearchError

logger = logging.getLogger(__name__)

# Timing entries that are not a step of the pipeline.
_NOT_STEPS = ("bookkeeping", "total", "propose")


# ---- the record as user attributes ---------------------------------------------------------------
def user_attrs_of(trial_record: TrialRecord, *, own_only: bool = False) -> dict[str, Any]:
    """The user attributes that store ``trial_record``.

    Provenance fields that are not set (``retry_of``, ``ray_trial_id``, ...) are left out rather
    than written as ``null``, as the study has always stored them. ``own_only`` keeps only what
    belongs to the trial itself (and keys of older versions), for a trial enqueued or started ahead.
    """
    attrs = trial_record.to_user_attrs()
    if own_only:
        attrs = {k: v for k, v in attrs.items() if k in OWN_FIELDS or k in trial_record.extra}
    return {k: v for k, v in attrs.items() if v is not None or k not in OWN_FIELDS}


def reference_record(setup: SearchSetup) -> TrialRecord:
    """What the reference trial holds about itself before it runs."""
    return TrialRecord(is_reference=True, reference_name=setup.config.reference_baseline)


def front_size(study: optuna.Study, objectives: ObjectiveSet) -> int:
    """Trials on the feasible front (multi-objective), or 1 when a feasible best exists."""
    if objectives.multi_objective:
        return len(study.best_trials)
    feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if not TrialRecord.from_trial(t).constraint_violations]
    return 1 if feasible else 0


def start_external_trial(study: optuna.Study, *, params: Mapping[str, Any] | None = None,
                         distributions: Mapping[str, Any] | None = None,
                         own: TrialRecord | None = None) -> optuna.Trial:
    """A RUNNING trial of ``study`` for an architecture proposed by another tool (Ray Tune, KerasTuner)."""
    template = optuna.trial.create_trial(
        state=TrialState.RUNNING,
        params=dict(params or {}),
        distributions=dict(distributions or {}),
        user_attrs=user_attrs_of(own, own_only=True) if own is not None else {},
    )
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    return optuna.Trial(study, trial_id)


def record_trial(setup: SearchSetup, study: optuna.Study, trial: optuna.Trial, arch: Any, *,
                 epochs: int | None = None, propose_s: float | None = None) -> TrialOutcome:
    """Evaluate ``arch`` as ``trial`` and write its record and constraints into the study.

    ``timings_s`` gets ``propose`` (the proposer's time, when known) and ``bookkeeping``: everything
    of the trial that is neither the proposer nor an evaluator step (duplicate lookup, study writes).
    The trial is not told: see :meth:`SearchSession.run_trial`.
    """
    start = time.perf_counter()
    worker = worker_identity()
    set_fields(trial, worker=worker)  # first: recovery tells a dead worker's trial from a live one
    previous = record.find_previous(study.get_trials(deepcopy=False), arch.to_string(), exclude=trial.number,
                                    proxy_epochs=epochs)
    # What the trial already holds (reference flag, retry_of, ray_trial_id, ...) is its own.
    own = TrialRecord.from_trial(trial).replace(worker=None)
    rule = setup.pipeline.early_stopping
    judge_for = StudyRungBoard(study, trial, rule).judge_for if rule is not None else None
    outcome = setup.pipeline.run(arch, trial_number=trial.number, previous=previous, own=own, epochs=epochs,
                                 judge_for=judge_for)
    timings = dict(outcome.record.timings_s)
    steps = sum(v for k, v in timings.items() if k not in _NOT_STEPS)
    total = time.perf_counter() - start
    timings["bookkeeping"] = max(0.0, total - steps)
    if propose_s is not None:
        timings["propose"] = propose_s
    timings["total"] = total + (propose_s or 0.0)
    final = outcome.record.replace(worker=worker, timings_s=timings)
    store_url = setup.config.artifact_store.url
    if store_url and final.reused_from is None:  # a copy's files are its source trial's
        upload_trial_artifacts(store_url, trial, final.artifacts)
    for key, value in user_attrs_of(final).items():
        trial.set_user_attr(key, value)
    for name, value in outcome.constraints.items():
        trial.set_constraint(name, value)
    return outcome.replace(record=final)


@dataclasses.dataclass
class SearchSession:
    """What the loop hands a strategy: the setup, the study, and the way to run one trial.

    ``evaluator`` is the one given to the search (``None``: each process builds the real evaluators
    from the config; Ray Tune workers do so in their own process). ``progress`` is ``None`` in a
    process that does not report (a Ray worker).
    """

    setup: SearchSetup
    study: optuna.Study
    progress: SearchProgress | None = None
    evaluator: CandidateEvaluator | None = None

    @property
    def config(self) -> Any:
        return self.setup.config

    @property
    def n_target(self) -> int:
        return self.setup.config.strategy.n_trials

    def n_done(self) -> int:
        return record.count_done(self.study.get_trials(deepcopy=False))

    def remaining(self) -> int:
        return max(0, self.n_target - self.n_done())

    def target_reached(self) -> bool:
        return self.n_done() >= self.n_target

    def run_trial(self, trial: optuna.Trial, arch: Any, *, epochs: int | None = None,
                  propose_s: float | None = None, retry_on_interrupt: bool = False) -> TrialOutcome:
        """Evaluate ``arch`` as the RUNNING ``trial``, tell the study and report it; returns the outcome.

        A :class:`FatalSearchError` (or Ctrl-C) marks the trial interrupted and, with
        ``retry_on_interrupt`` (strategies that read the study's queue), enqueues it again with the
        same params so the next run retries it first; then it propagates.
        """
        try:
            with heartbeat(self.study, trial):  # a database storage: other hosts see this trial alive
                outcome = record_trial(self.setup, self.study, trial, arch, epochs=epochs, propose_s=propose_s)
        except (FatalSearchError, KeyboardInterrupt) as exc:
            mark_interrupted(self.study, trial, f"{type(exc).__name__}: {exc}")
            if retry_on_interrupt:
                self._enqueue_retry(trial)
            self._tell_failed(trial)
            raise
        except BaseException:
            self._tell_failed(trial)
            raise
        if outcome.failed:
            self.study.tell(trial, state=TrialState.FAIL)
        elif outcome.pruned:  # stopped at a rung: kept out of the front, the sampler and exports
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, outcome.values)
        self.report(self.study.get_trials(deepcopy=False)[trial.number])
        return outcome

    def run_external_trial(self, arch: Any, *, params: Mapping[str, Any] | None = None,
                           distributions: Mapping[str, Any] | None = None, own: TrialRecord | None = None,
                           epochs: int | None = None) -> tuple[int, TrialOutcome]:
        """Evaluate an architecture proposed by another tool into a new trial; returns (number, outcome)."""
        trial = start_external_trial(self.study, params=params, distributions=distributions, own=own)
        return trial.number, self.run_trial(trial, arch, epochs=epochs)

    def evaluate_reference_first(self) -> None:
        """Evaluate the reference as the study's next trial, unless the study has one.

        For proposers that cannot be told to propose it (KerasTuner; Ray Tune when the reference is
        outside the search space). Same pipeline, same record.
        """
        setup = self.setup
        if setup.reference_arch is None or record.has_reference(self.study):
            return
        distributions = None
        if setup.reference_params:
            choices = {c.name: c for c in setup.space.parameters()}
            distributions = {name: optuna.distributions.CategoricalDistribution(list(choices[name].values))
                             for name in setup.reference_params}
        self.run_external_trial(setup.reference_arch, params=setup.reference_params, distributions=distributions,
                                own=reference_record(setup))

    def report(self, trial: FrozenTrial, *, study: optuna.Study | None = None) -> None:
        """Show a finished trial on the progress display (``study``: a fresher copy to count the front)."""
        if self.progress is not None:
            self.progress.trial_finished(trial, front_size=front_size(study or self.study, self.setup.objectives),
                                         count_as_done=record.is_done(trial))

    def _enqueue_retry(self, trial: optuna.Trial) -> None:
        own = TrialRecord.from_trial(self.study.get_trials(deepcopy=False)[trial.number])
        retry = TrialRecord(extra=dict(own.extra), **{name: getattr(own, name) for name in OWN_FIELDS})
        retry = retry.replace(worker=None, retry_of=trial.number)
        self.study.enqueue_trial(dict(trial.params), user_attrs=user_attrs_of(retry, own_only=True))

    def _tell_failed(self, trial: optuna.Trial) -> None:
        if self.study.get_trials(deepcopy=False)[trial.number].state == TrialState.RUNNING:
            self.study.tell(trial, state=TrialState.FAIL)
