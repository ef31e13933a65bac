"""One trial: cheap measurement -> constraint gate -> proxy training and int8 evaluation.

Latency first (as in MnasNet / NNI's split of a cheap profiler from the evaluator): size and latency
of the untrained int8 model are measured before any training, and a candidate that breaks a latency
or size constraint is recorded with its measured cost and not trained. An architecture already
evaluated in the study is not evaluated again; its results are copied and the trial says so.

The pipeline knows evaluators only through :class:`CandidateEvaluator`, so the same code runs under
Optuna, Ray Tune and KerasTuner, and tests can inject a fake evaluator.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Mapping, Protocol

from optuna.trial import FrozenTrial, TrialState

from nas.record import study as record
from nas.config.settings import ConstraintSettings
from nas.trial.objectives import ObjectiveSet, REWARD_METRIC, accuracy_constraints, cost_constraints, violated

logger = logging.getLogger(__name__)

TFLITE_INT8_NAME = "model_int8.tflite"
KERAS_MODEL_NAME = "model.keras"


class FatalSearchError(RuntimeError):
    """The search cannot go on (no dataset, profiler unreachable after retries); it can be resumed."""


class ArchitectureLike(Protocol):
    def to_string(self) -> str: ...


@dataclasses.dataclass
class CostMeasurement:
    """Size and latency of the untrained int8 model (no training). ``failure_reason`` set = failed."""

    size_bytes: int | None = None
    latency_ms: dict[str, float] = dataclasses.field(default_factory=dict)  # count, mean, std, min, p50, ...
    device: dict[str, Any] = dataclasses.field(default_factory=dict)
    profiler: dict[str, Any] = dataclasses.field(default_factory=dict)  # measured_by, runtime, params, ...
    params: int | None = None
    macs: int | None = None
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    failure_reason: str | None = None


@dataclasses.dataclass
class AccuracyMeasurement:
    """Proxy training and evaluation of the trained int8 model through the interpreter."""

    accuracy_int8: float | None = None
    size_bytes: int | None = None  # of the trained int8 model (the deployed one)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    failure_reason: str | None = None


class CandidateEvaluator(Protocol):
    """The two halves of evaluating a candidate; both return failures instead of raising them."""

    def measure_cost(self, arch: Any, trial_dir: Path) -> CostMeasurement: ...

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None) -> AccuracyMeasurement:
        """Proxy-train ``arch`` (``epochs`` overrides the configured budget) and evaluate its int8 model."""
        ...


@dataclasses.dataclass
class TrialOutcome:
    """What a trial records: Optuna state, values, user attributes and named constraints."""

    state: TrialState
    values: list[float] | None
    user_attrs: dict[str, Any]
    constraints: dict[str, float]

    @property
    def failed(self) -> bool:
        return self.state == TrialState.FAIL


class TrialPipeline:
    """Evaluate one architecture and turn the measurements into a :class:`TrialOutcome`."""

    def __init__(
        self,
        evaluator: CandidateEvaluator,
        objectives: ObjectiveSet,
        constraints: ConstraintSettings,
        study_dir: Path,
    ) -> None:
        self.evaluator = evaluator
        self.objectives = objectives
        self.constraints = constraints
        self.study_dir = Path(study_dir)

    def trial_dir(self, trial_number: int) -> Path:
        return self.study_dir / "trials" / str(trial_number)

    def run(
        self,
        arch: ArchitectureLike,
        *,
        trial_number: int,
        previous: FrozenTrial | None = None,
        extra_attrs: Mapping[str, Any] | None = None,
        epochs: int | None = None,
    ) -> TrialOutcome:
        """Evaluate ``arch`` as trial ``trial_number`` (or reuse ``previous`` when it is a duplicate).

        ``epochs`` overrides the proxy training budget (KerasTuner's Hyperband sets it per trial).
        """
        start = time.perf_counter()
        attrs: dict[str, Any] = {
            record.ATTR_ARCHITECTURE: arch.to_string(),
            record.ATTR_IS_REFERENCE: False,
            record.ATTR_REUSED_FROM: None,
            record.ATTR_FAILURE_REASON: None,
            "failure_stage": None,
            "constraint_violations": [],
            "proxy_epochs": epochs,
        }
        own = dict(extra_attrs or {})
        attrs.update(own)
        if previous is not None:
            outcome = self._reuse(previous, attrs, own)
        else:
            outcome = self._evaluate(arch, trial_number, attrs, epochs)
        timings = outcome.user_attrs.setdefault("timings_s", {})
        measured = sum(v for k, v in timings.items() if k not in ("bookkeeping", "total"))
        total = time.perf_counter() - start
        timings["bookkeeping"] = max(0.0, total - measured)
        timings["total"] = total
        outcome.user_attrs = record.to_jsonable(outcome.user_attrs)
        return outcome

    # -- fresh evaluation ------------------------------------------------------------------------
    def _evaluate(self, arch: ArchitectureLike, trial_number: int, attrs: dict[str, Any],
                  epochs: int | None) -> TrialOutcome:
        trial_dir = self.trial_dir(trial_number)
        trial_dir.mkdir(parents=True, exist_ok=True)
        cost = self.evaluator.measure_cost(arch, trial_dir)
        attrs.update(_cost_attrs(cost))
        attrs["timings_s"] = dict(cost.timings_s)
        attrs["artifacts"] = dict(cost.artifacts)
        attrs["trained"] = False
        attrs["accuracy_int8"] = None
        attrs["metrics"] = {}
        if cost.failure_reason is not None:
            return self._failed(attrs, cost.failure_reason, stage="cost")

        constraints = cost_constraints(self.constraints, latency_ms=cost.latency_ms["p50"], size_bytes=cost.size_bytes)
        if violated(constraints):
            # Not trained: the accuracy objective counts as 0 and the accuracy constraint as broken.
            constraints.update(accuracy_constraints(self.constraints, accuracy=None))
            attrs[record.ATTR_STATUS] = record.STATUS_INFEASIBLE
            return self._finish(attrs, constraints)

        acc = self.evaluator.train_and_evaluate(arch, trial_dir, epochs=epochs)
        attrs["timings_s"].update(acc.timings_s)
        attrs["artifacts"].update(acc.artifacts)
        attrs["metrics"] = dict(acc.metrics)
        if acc.failure_reason is not None:
            return self._failed(attrs, acc.failure_reason, stage="train")
        attrs["trained"] = True
        attrs["accuracy_int8"] = acc.accuracy_int8
        if acc.size_bytes is not None:
            attrs["size_bytes_untrained"] = attrs["size_bytes"]
            attrs["size_bytes"] = acc.size_bytes
        constraints.update(accuracy_constraints(self.constraints, accuracy=acc.accuracy_int8))
        attrs[record.ATTR_STATUS] = record.STATUS_COMPLETE
        return self._finish(attrs, constraints)

    def _finish(self, attrs: dict[str, Any], constraints: dict[str, float]) -> TrialOutcome:
        attrs["constraint_violations"] = violated(constraints)
        attrs[REWARD_METRIC] = self._reward_or_none(attrs)
        try:
            values = self.objectives.values(attrs)
        except ValueError as exc:
            return self._failed(attrs, f"no objective value: {exc}", stage="record")
        return TrialOutcome(TrialState.COMPLETE, values, attrs, constraints)

    def _failed(self, attrs: dict[str, Any], reason: str, *, stage: str) -> TrialOutcome:
        attrs[record.ATTR_STATUS] = record.STATUS_FAILED
        attrs[record.ATTR_FAILURE_REASON] = reason
        attrs["failure_stage"] = stage
        return TrialOutcome(TrialState.FAIL, None, attrs, {})

    def _reward_or_none(self, attrs: Mapping[str, Any]) -> float | None:
        if attrs.get("accuracy_int8") is None or attrs.get("latency_ms_p50") is None:
            return None
        return self.objectives.reward(attrs)

    # -- duplicates ------------------------------------------------------------------------------
    def _reuse(self, previous: FrozenTrial, attrs: dict[str, Any], own: Mapping[str, Any]) -> TrialOutcome:
        """Copy the results of ``previous`` (same architecture): nothing is built, trained or measured."""
        copied = {k: v for k, v in previous.user_attrs.items() if k not in _NOT_COPIED}
        copied.update({k: v for k, v in attrs.items() if k in _OWN_ATTRS})
        copied.update(own)
        copied[record.ATTR_REUSED_FROM] = previous.number
        copied["timings_s"] = {}
        logger.info("architecture already evaluated by trial %d; reusing its results", previous.number)
        if copied.get(record.ATTR_STATUS) == record.STATUS_FAILED:
            return TrialOutcome(TrialState.FAIL, None, copied, {})
        constraints = {}
        if copied.get("latency_ms_p50") is not None and copied.get("size_bytes") is not None:
            constraints = cost_constraints(self.constraints, latency_ms=copied["latency_ms_p50"], size_bytes=copied["size_bytes"])
        constraints.update(accuracy_constraints(self.constraints, accuracy=copied.get("accuracy_int8")))
        return self._finish(copied, constraints)


# Attributes that describe the trial itself rather than the architecture's results.
_OWN_ATTRS = (record.ATTR_IS_REFERENCE, "reference_name", record.ATTR_RETRY_OF, record.ATTR_WORKER,
              "ray_trial_id", "keras_tuner_trial_id")
_NOT_COPIED = (*_OWN_ATTRS, record.ATTR_REUSED_FROM, "timings_s")


def _cost_attrs(cost: CostMeasurement) -> dict[str, Any]:
    latency = dict(cost.latency_ms)
    return {
        "size_bytes": cost.size_bytes,
        "latency_ms_p50": latency.get("p50"),
        "latency_ms": latency,
        "params": cost.params,
        "macs": cost.macs,
        "device": dict(cost.device),
        "profiler": dict(cost.profiler),
        "versions": dict(cost.versions),
    }
