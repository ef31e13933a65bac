"""Multi-objective early stopping: which trial goes on at a rung (MO-ASHA, Schmucker et al. 2021).

Optuna prunes no multi-objective study (optuna#3450) and KerasTuner sums its objectives, but here
latency and size are known before training, so a trial can be judged at a rung on the one objective
training changes. At each rung a trial goes on only if it ranks in the top ``1 / reduction_factor``
of all trials that reached that rung (itself included), ranked by non-dominated sorting on
(accuracy at the rung, latency, size) and, within a front, by the configured tie-break
(:func:`nas.pareto.promotion_order`). As in Optuna's ``SuccessiveHalvingPruner`` the decision is
taken at once, against the trials that are there (asynchronous successive halving, Li et al. 2020):
a trial never waits, so Ray's concurrent trials, the local loop and KerasTuner all use it. The top
``max(1, floor(n / reduction_factor))`` go on, so the first trial to reach a rung always does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from nas import pareto

#: The objectives a rung ranks on besides the accuracy at the rung, and their directions.
_COST_DIRECTIONS = {"latency": "minimize", "size": "minimize"}


@dataclasses.dataclass(frozen=True)
class RungPoint:
    """One trial at one rung: its Keras validation accuracy there and its (untrained) cost."""

    trial_number: int
    accuracy: float
    latency_ms_p50: float | None
    size_bytes: int | None

    def values(self, costs: Sequence[str]) -> list[float] | None:
        """(accuracy, then each cost of ``costs``); None when a cost is missing."""
        by_name = {"latency": self.latency_ms_p50, "size": self.size_bytes}
        values = [by_name[name] for name in costs]
        if any(v is None or not math.isfinite(float(v)) for v in values) or not math.isfinite(self.accuracy):
            return None
        return [self.accuracy, *(float(v) for v in values)]


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """The early-stopping rule of a search: rungs (epochs), reduction factor, tie-break, objectives."""

    rungs_epochs: tuple[int, ...]
    reduction_factor: float
    tie_break: str
    objectives: tuple[str, ...]

    @property
    def costs(self) -> tuple[str, ...]:
        return tuple(name for name in self.objectives if name in _COST_DIRECTIONS)

    def keep_count(self, n_at_rung: int) -> int:
        """How many of the ``n_at_rung`` trials at a rung go on."""
        return max(1, math.floor(n_at_rung / self.reduction_factor + 1e-9))

    def promoted(self, own: RungPoint, others: Sequence[RungPoint]) -> bool:
        """Whether ``own`` ranks in the top ``keep_count`` of itself and ``others`` at one rung.

        Others with a missing value are left out; ``own`` without one goes on (nothing to judge).
        Exact ties go to the earlier trial (points in trial-number order).
        """
        if own.values(self.costs) is None:
            return True
        points = sorted([own, *(p for p in others if p.values(self.costs) is not None
                                and p.trial_number != own.trial_number)], key=lambda p: p.trial_number)
        rows = [p.values(self.costs) for p in points]
        directions = ["maximize", *(_COST_DIRECTIONS[name] for name in self.costs)]
        order = pareto.promotion_order(rows, directions, tie_break=self.tie_break)
        return order.index(points.index(own)) < self.keep_count(len(rows))


#: What a trial's judge is asked at each rung: (epoch, accuracy there) -> does it go on?
RungJudge = Callable[[int, float], bool]
