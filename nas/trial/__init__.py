"""One trial of a search: cheap measurement -> constraint gate -> proxy training -> int8 evaluation.

- :mod:`~nas.trial.protocol`: the evaluator protocol (:class:`CandidateEvaluator` with its
  :class:`CostMeasurement` and :class:`AccuracyMeasurement`) and :class:`FatalSearchError`.
- :mod:`~nas.trial.latency`: where latency comes from (:class:`LatencySource`, :class:`MeasuredLatency`,
  chosen by ``latency.source``).
- :mod:`~nas.trial.pipeline`: :class:`TrialPipeline`, which turns measurements into a
  :class:`~nas.record.trial_record.TrialRecord` (a :class:`TrialOutcome`).
- :mod:`~nas.trial.objectives`: objectives, constraints and the MnasNet reward over a TrialRecord.
- :mod:`~nas.trial.evaluation`: the real evaluators behind the protocol (imports TensorFlow when used).
"""

from nas.trial.latency import LATENCY_SOURCES, LatencySource, MeasuredLatency, latency_source_for, make_latency_source
from nas.trial.objectives import ObjectiveSet, mnasnet_reward
from nas.trial.pipeline import TrialOutcome, TrialPipeline
from nas.trial.protocol import AccuracyMeasurement, CandidateEvaluator, CostMeasurement, FatalSearchError

__all__ = [
    "LATENCY_SOURCES",
    "AccuracyMeasurement",
    "CandidateEvaluator",
    "CostMeasurement",
    "FatalSearchError",
    "LatencySource",
    "MeasuredLatency",
    "ObjectiveSet",
    "TrialOutcome",
    "TrialPipeline",
    "latency_source_for",
    "make_latency_source",
    "mnasnet_reward",
]
