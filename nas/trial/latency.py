"""Where a candidate's latency comes from: the slot the trial pipeline measures cost through.

Once-for-All and nn-Meter keep the search apart from how latency is obtained (a device, a table, a
predictor). Here a :class:`LatencySource` returns the cheap measurement of a candidate, latency
included; the search is configured with ``latency.source`` and the pipeline records the source's
name in each trial (``TrialRecord.latency_source``). Today there is one source,
:class:`MeasuredLatency`; a predictor (issue 15) is one more module with one more registry entry.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar

from nas.config.settings import SearchConfig
from nas.trial.protocol import ArchitectureLike, CandidateEvaluator, CostMeasurement

DEFAULT_LATENCY_SOURCE = "measured"


class LatencySource(abc.ABC):
    """Gives the cost (size, latency) of a candidate before training."""

    #: The ``latency.source`` value that selects this source (recorded in every trial).
    name: ClassVar[str]

    @abc.abstractmethod
    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        """Size and latency of ``arch``; a failure is returned (``failure_reason``), not raised."""


class MeasuredLatency(LatencySource):
    """The profiler measures the untrained int8 model (local, or an agent on the device).

    Latency depends on the graph and its int8 kernels, not on the weights, so the untrained model's
    latency is the trained model's (MnasNet measures before training too, Tan et al. 2019).
    """

    name = "measured"

    def measure_cost(self, evaluator: CandidateEvaluator, arch: ArchitectureLike, trial_dir: Path) -> CostMeasurement:
        return evaluator.measure_cost(arch, trial_dir)


#: ``latency.source`` name -> source class.
LATENCY_SOURCES: dict[str, type[LatencySource]] = {MeasuredLatency.name: MeasuredLatency}


def make_latency_source(name: str = DEFAULT_LATENCY_SOURCE) -> LatencySource:
    """The latency source registered as ``name``."""
    try:
        return LATENCY_SOURCES[name]()
    except KeyError:
        raise ValueError(f"latency source {name!r} is not one of {', '.join(LATENCY_SOURCES)}") from None


def latency_source_for(config: SearchConfig) -> LatencySource:
    """The source of a search config's ``latency.source``."""
    return make_latency_source(config.latency.source)
