"""One trial: cheap measurement -> constraint gate -> proxy training and int8 evaluation.

Latency first (as in MnasNet / NNI's split of a cheap profiler from the evaluator): size and latency
of the untrained int8 model come first, from the configured :mod:`latency source <nas.trial.latency>`,
and a candidate that breaks a latency or size constraint is recorded with its cost and not
trained. An architecture already evaluated in the study is not evaluated again; its results are
copied and the trial says so.

The pipeline knows evaluators only through :class:`~nas.trial.protocol.CandidateEvaluator`, so the
same code runs under Optuna, Ray Tune and KerasTuner, and tests can inject a fake evaluator. What
it returns is a :class:`~nas.record.trial_record.TrialRecord`; writing it into the study is the
strategies' part.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from nas.config.settings import ConstraintSettings
from nas.record.trial_record import OWN_FIELDS, TrialRecord, TrialStatus
from nas.trial.early_stopping import EarlyStopping, RungJudge
from nas.trial.latency import LatencySource, MeasuredLatency
from nas.trial.objectives import ObjectiveSet, accuracy_constraints, cost_constraints, violated
from nas.trial.protocol import (  # noqa: F401 (FatalSearchError and the measurements: re-exported)
    AccuracyMeasurement,
    ArchitectureLike,
    CandidateEvaluator,
    CostMeasurement,
    FatalSearchError,
)

logger = logging.getLogger(__name__)

TFLITE_INT8_NAME = "model_int8.tflite"
KERAS_MODEL_NAME = "model.keras"
# Timing entries that sum the others (not a step of their own).
_SUMMARY_TIMINGS = ("bookkeeping", "total")


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """What a trial records: Optuna state, values, the trial record and named constraints."""

    state: TrialState
    values: list[float] | None
    record: TrialRecord
    constraints: Mapping[str, float]

    @property
    def failed(self) -> bool:
        return self.state == TrialState.FAIL

    @property
    def pruned(self) -> bool:
        return self.state == TrialState.PRUNED

    def replace(self, **changes: Any) -> TrialOutcome:
        return dataclasses.replace(self, **changes)


def own_fields(record: TrialRecord) -> dict[str, Any]:
    """The fields of ``record`` that belong to the trial itself (reference flag, retry_of, ids, ...)."""
    return {name: getattr(record, name) for name in OWN_FIELDS}


class TrialPipeline:
    """Evaluate one architecture and turn the measurements into a :class:`TrialOutcome`."""

    def __init__(
        self,
        evaluator: CandidateEvaluator,
        objectives: ObjectiveSet,
        constraints: ConstraintSettings,
        study_dir: Path,
        latency_source: LatencySource | None = None,
        *,
        early_stopping: EarlyStopping | None = None,
        training_epochs: int | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.objectives = objectives
        self.constraints = constraints
        self.study_dir = Path(study_dir)
        self.latency_source = latency_source or MeasuredLatency()
        if early_stopping is not None and training_epochs is None:
            raise ValueError("early stopping needs the training budget (training_epochs)")
        self.early_stopping = early_stopping
        self.training_epochs = training_epochs

    def trial_dir(self, trial_number: int) -> Path:
        return self.study_dir / "trials" / str(trial_number)

    def run(
        self,
        arch: ArchitectureLike,
        *,
        trial_number: int,
        previous: FrozenTrial | None = None,
        own: TrialRecord | None = None,
        epochs: int | None = None,
        judge_for: Callable[[TrialRecord], RungJudge] | None = None,
    ) -> TrialOutcome:
        """Evaluate ``arch`` as trial ``trial_number`` (or reuse ``previous`` when it is a duplicate).

        ``own`` is what the trial already holds about itself (reference flag, ``retry_of``, the id
        Ray Tune or KerasTuner gave it); ``epochs`` overrides the proxy training budget (KerasTuner's
        Hyperband sets it per trial). With early stopping, ``judge_for(record)`` gives the judge of
        this trial's rungs once its cost is known (the strategies' study board); a trial stopped at
        a rung is PRUNED.
        """
        start = time.perf_counter()
        own = own or TrialRecord()
        base = TrialRecord(architecture=arch.to_string(), proxy_epochs=epochs, extra=dict(own.extra),
                           **own_fields(own))
        if previous is not None:
            outcome = self._reuse(previous, base)
        else:
            outcome = self._evaluate(arch, trial_number, base, epochs, judge_for)
        timings = dict(outcome.record.timings_s)
        measured = sum(v for k, v in timings.items() if k not in _SUMMARY_TIMINGS)
        total = time.perf_counter() - start
        timings.update(bookkeeping=max(0.0, total - measured), total=total)
        return outcome.replace(record=outcome.record.replace(timings_s=timings))

    # -- fresh evaluation ------------------------------------------------------------------------
    def _evaluate(self, arch: ArchitectureLike, trial_number: int, base: TrialRecord,
                  epochs: int | None, judge_for: Callable[[TrialRecord], RungJudge] | None = None) -> TrialOutcome:
        trial_dir = self.trial_dir(trial_number)
        trial_dir.mkdir(parents=True, exist_ok=True)
        cost = self.latency_source.measure_cost(self.evaluator, arch, trial_dir)
        record = _with_cost(base, cost, source=self.latency_source.name)
        if cost.failure_reason is not None:
            return self._failed(record, cost.failure_reason, stage="cost")

        constraints = cost_constraints(self.constraints, latency_ms=cost.latency_ms_p50, size_bytes=cost.size_bytes)
        if violated(constraints):
            # Not trained: the accuracy objective counts as 0 and the accuracy constraint as broken.
            constraints.update(accuracy_constraints(self.constraints, accuracy=None))
            return self._finish(record.replace(status=TrialStatus.INFEASIBLE), constraints)

        acc = self._train(arch, trial_dir, record, epochs, judge_for)
        record = record.replace(timings_s={**record.timings_s, **acc.timings_s},
                                artifacts={**record.artifacts, **acc.artifacts}, metrics=dict(acc.metrics),
                                rung_accuracies=dict(acc.rung_accuracies), stopped_at_epoch=acc.stopped_at_epoch)
        if acc.failure_reason is not None:
            return self._failed(record, acc.failure_reason, stage="train")
        record = record.replace(trained=True, accuracy_int8=acc.accuracy_int8,
                                accuracy_source=acc.accuracy_source, inherited_from=dict(acc.inherited_from))
        if acc.size_bytes is not None:
            record = record.replace(size_bytes_untrained=record.size_bytes, size_bytes=acc.size_bytes)
        constraints.update(accuracy_constraints(self.constraints, accuracy=acc.accuracy_int8))
        if acc.rung_accuracies or acc.stopped_at_epoch is not None:
            record = record.replace(epochs_trained=acc.stopped_at_epoch or epochs or self.training_epochs)
        if acc.stopped_at_epoch is not None:
            return self._finish(record.replace(status=TrialStatus.PRUNED), constraints, state=TrialState.PRUNED)
        return self._finish(record.replace(status=TrialStatus.COMPLETE), constraints)

    def _train(self, arch: ArchitectureLike, trial_dir: Path, record: TrialRecord, epochs: int | None,
               judge_for: Callable[[TrialRecord], RungJudge] | None) -> AccuracyMeasurement:
        """Train, in rungs when early stopping is on (resuming the rung checkpoint of the trial retried)."""
        if self.early_stopping is None or judge_for is None:
            return self.evaluator.train_and_evaluate(arch, trial_dir, epochs=epochs)
        from evaluators import RungPlan, RungTraining

        total = epochs or self.training_epochs
        rungs = tuple(e for e in self.early_stopping.rungs_epochs if e <= total) or (total,)
        resume_from = None
        if record.retry_of is not None:
            resume_from = self.trial_dir(record.retry_of) / "rungs"
        plan = RungTraining(RungPlan(rungs, total), judge_for(record), resume_from=resume_from)
        return self.evaluator.train_and_evaluate(arch, trial_dir, epochs=epochs, rungs=plan)

    def _finish(self, record: TrialRecord, constraints: dict[str, float], *,
                state: TrialState = TrialState.COMPLETE) -> TrialOutcome:
        """Constraint violations, reward and objective values of ``record`` (a PRUNED trial's are its
        values where it stopped: KerasTuner's oracle is told them; Optuna is told PRUNED)."""
        record = record.replace(constraint_violations=tuple(violated(constraints)),
                                mnasnet_reward=self.objectives.reward_or_none(record))
        try:
            values = self.objectives.values(record)
        except ValueError as exc:
            return self._failed(record, f"no objective value: {exc}", stage="record")
        return TrialOutcome(state, values, record, constraints)

    def _failed(self, record: TrialRecord, reason: str, *, stage: str) -> TrialOutcome:
        record = record.replace(status=TrialStatus.FAILED, failure_reason=reason, failure_stage=stage)
        return TrialOutcome(TrialState.FAIL, None, record, {})

    # -- duplicates ------------------------------------------------------------------------------
    def _reuse(self, previous: FrozenTrial, base: TrialRecord) -> TrialOutcome:
        """Copy the results of ``previous`` (same architecture): nothing is built, trained or measured."""
        source = TrialRecord.from_trial(previous)
        copied = source.replace(**own_fields(base), extra={**source.extra, **base.extra},
                                reused_from=previous.number, timings_s={})
        logger.info("architecture already evaluated by trial %d; reusing its results", previous.number)
        if copied.status == TrialStatus.FAILED:
            return TrialOutcome(TrialState.FAIL, None, copied, {})
        state = TrialState.PRUNED if copied.status == TrialStatus.PRUNED else TrialState.COMPLETE
        constraints = {}
        if copied.latency_ms_p50 is not None and copied.size_bytes is not None:
            constraints = cost_constraints(self.constraints, latency_ms=copied.latency_ms_p50,
                                           size_bytes=copied.size_bytes)
        constraints.update(accuracy_constraints(self.constraints, accuracy=copied.accuracy_int8))
        return self._finish(copied, constraints, state=state)


def _with_cost(base: TrialRecord, cost: CostMeasurement, *, source: str) -> TrialRecord:
    """``base`` with the cheap measurement: not trained yet, no accuracy."""
    return base.replace(
        size_bytes=cost.size_bytes,
        latency_ms_p50=cost.latency_ms_p50,
        latency_ms=dict(cost.latency_ms),
        latency_source=source,
        params=cost.params,
        macs=cost.macs,
        device=dict(cost.device),
        profiler=dict(cost.profiler),
        versions=dict(cost.versions),
        timings_s=dict(cost.timings_s),
        artifacts=dict(cost.artifacts),
        trained=False,
        accuracy_int8=None,
        metrics={},
    )
