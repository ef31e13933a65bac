"""The evaluator protocol: what the trial pipeline asks of whatever measures a candidate.

As NNI keeps a cheap ``Profiler`` apart from the ``Evaluator`` that trains, a
:class:`CandidateEvaluator` has two halves: :meth:`~CandidateEvaluator.measure_cost` (size and
latency of the untrained int8 model, seconds) and :meth:`~CandidateEvaluator.train_and_evaluate`
(proxy training, int8 conversion and evaluation through LiteRT, minutes). Both return their
failures as values (``failure_reason``); only :class:`FatalSearchError` is raised, for what no other
candidate would survive either (KerasTuner's ``FailedTrialError`` / ``FatalError`` split).

The real evaluators are in :mod:`nas.trial.evaluation`; tests use a fake (tests/nas/fakes.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol


class FatalSearchError(RuntimeError):
    """The search cannot go on (no dataset, profiler unreachable after retries); it can be resumed."""


class ArchitectureLike(Protocol):
    """What the pipeline needs of an architecture: its string form (``search_spaces.Architecture``)."""

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

    @property
    def latency_ms_p50(self) -> float | None:
        """The median latency, the number the gate and the objectives use."""
        return self.latency_ms.get("p50")


@dataclasses.dataclass
class AccuracyMeasurement:
    """Proxy training and evaluation of the trained int8 model through the interpreter."""

    accuracy_int8: float | None = None
    size_bytes: int | None = None  # of the trained int8 model (the deployed one)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    failure_reason: str | None = None
    # Where accuracy_int8 comes from (nas.record.trial_record.ACCURACY_SOURCES), and for weights inherited
    # from a supernet its folder and fingerprint (TrialRecord.inherited_from).
    accuracy_source: str = "trained"
    inherited_from: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Training in rungs (early stopping): Keras validation accuracy at each rung reached, and the
    # rung where the training stopped (None: it went to the end of its budget).
    rung_accuracies: dict[int, float] = dataclasses.field(default_factory=dict)
    stopped_at_epoch: int | None = None


class CandidateEvaluator(Protocol):
    """The two halves of evaluating a candidate; both return failures instead of raising them.

    ``channels`` and ``num_classes`` (the dataset's) fix the input and classifier of the search space.
    """

    channels: int
    num_classes: int

    def measure_cost(self, arch: Any, trial_dir: Path) -> CostMeasurement:
        """Build, convert and profile the untrained int8 model of ``arch`` (artifacts in ``trial_dir``)."""
        ...

    def train_and_evaluate(self, arch: Any, trial_dir: Path, *, epochs: int | None = None) -> AccuracyMeasurement:
        """Proxy-train ``arch`` (``epochs`` overrides the configured budget) and evaluate its int8 model.

        An evaluator that can stop early also takes ``rungs=`` (an ``evaluators.RungTraining``: the
        rung plan, the judge and a rung checkpoint to resume from); the pipeline passes it only
        when ``early_stopping`` is on.
        """
        ...
