"""Objectives and constraints of a search, and the one scalar reward for single-objective tools.

The objectives stay separate numbers (int8 accuracy, latency, size); the Pareto front is the result.
Only strategies that need a single number (``reward``, KerasTuner) use :func:`mnasnet_reward`.
Constraints follow Optuna's convention: a value <= 0 is feasible (``Trial.set_constraint``).
Objectives read the fields of a :class:`~nas.record.trial_record.TrialRecord`.
"""

from __future__ import annotations

import dataclasses
import math

from nas.config.settings import ConstraintSettings, SearchConfig
from nas.record.trial_record import TrialRecord

# Accuracy recorded as the objective value of a candidate that was not trained (constraint gate).
UNTRAINED_ACCURACY = 0.0


@dataclasses.dataclass(frozen=True)
class Objective:
    """One objective: the :class:`TrialRecord` field it reads, its direction and unit.

    ``when_missing`` is the value of a trial that has no measurement of it (an untrained candidate's
    accuracy counts as 0); ``None`` means a missing value is an error.
    """

    name: str
    metric: str
    direction: str
    unit: str
    when_missing: float | None = None

    def value(self, record: TrialRecord) -> float:
        """This objective's number in ``record``."""
        return _number(getattr(record, self.metric), self.metric, self.when_missing)


#: ``nas search`` objective names (``objectives`` of the config) -> objective.
SEARCH_OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", "accuracy_int8", "maximize", "fraction", when_missing=UNTRAINED_ACCURACY),
    "latency": Objective("latency", "latency_ms_p50", "minimize", "ms"),
    "size": Objective("size", "size_bytes", "minimize", "bytes"),
}
#: The study value name of a scalar-reward search (the ``TrialRecord`` field holding it).
REWARD_METRIC = "mnasnet_reward"


def mnasnet_reward(accuracy: float, latency_ms: float, *, target_latency_ms: float, exponent: float) -> float:
    """MnasNet's scalar reward ``ACC * (LAT / T) ** w`` (Tan et al. 2019, "MnasNet", eq. 2).

    With ``w = -0.07`` (their soft constraint), doubling latency costs about 5 % of the reward.
    Used only by single-objective strategies; the study keeps accuracy and latency apart.
    """
    if latency_ms <= 0 or not math.isfinite(latency_ms):
        raise ValueError(f"latency_ms must be a positive finite number, got {latency_ms!r}")
    return float(accuracy) * (float(latency_ms) / target_latency_ms) ** exponent


@dataclasses.dataclass(frozen=True)
class ObjectiveSet:
    """What the study's ``trial.values`` hold: the active objectives, or the MnasNet reward."""

    objectives: tuple[Objective, ...]
    scalar_reward: bool
    target_latency_ms: float
    exponent: float

    @classmethod
    def from_config(cls, config: SearchConfig) -> ObjectiveSet:
        return cls(
            objectives=tuple(SEARCH_OBJECTIVES[name] for name in config.objectives),
            scalar_reward=config.strategy.name in ("reward", "keras-tuner"),
            target_latency_ms=config.strategy.reward.target_latency_ms,
            exponent=config.strategy.reward.exponent,
        )

    @property
    def multi_objective(self) -> bool:
        """Whether ``trial.values`` hold the separate objectives (False: one MnasNet reward)."""
        return not self.scalar_reward

    @property
    def value_names(self) -> list[str]:
        if self.scalar_reward:
            return [REWARD_METRIC]
        return [o.metric for o in self.objectives]

    @property
    def directions(self) -> list[str]:
        if self.scalar_reward:
            return ["maximize"]
        return [o.direction for o in self.objectives]

    def reward(self, record: TrialRecord) -> float:
        """The MnasNet reward of ``record`` (an untrained candidate has accuracy 0)."""
        return mnasnet_reward(
            SEARCH_OBJECTIVES["accuracy"].value(record),
            SEARCH_OBJECTIVES["latency"].value(record),
            target_latency_ms=self.target_latency_ms,
            exponent=self.exponent,
        )

    def reward_or_none(self, record: TrialRecord) -> float | None:
        """The reward of a trained, measured candidate; ``None`` when accuracy or latency is missing."""
        if record.accuracy_int8 is None or record.latency_ms_p50 is None:
            return None
        return self.reward(record)

    def values(self, record: TrialRecord) -> list[float]:
        """The study values of a finished trial; ``ValueError`` when one is missing or not finite."""
        if self.scalar_reward:
            return [self.reward(record)]
        return [o.value(record) for o in self.objectives]


def _number(value: float | int | None, name: str, when_missing: float | None) -> float:
    if value is None and when_missing is not None:
        return when_missing
    if value is None or not math.isfinite(float(value)):
        raise ValueError(f"metric {name!r} is missing or not finite: {value!r}")
    return float(value)


def cost_constraints(constraints: ConstraintSettings, *, latency_ms: float, size_bytes: int) -> dict[str, float]:
    """Constraint values known before training (<= 0 is feasible)."""
    values: dict[str, float] = {}
    if constraints.max_latency_ms is not None:
        values["max_latency_ms"] = float(latency_ms) - constraints.max_latency_ms
    if constraints.max_size_bytes is not None:
        values["max_size_bytes"] = float(size_bytes - constraints.max_size_bytes)
    return values


def accuracy_constraints(constraints: ConstraintSettings, *, accuracy: float | None) -> dict[str, float]:
    """The accuracy constraint; an untrained candidate counts as accuracy 0 (it was not measured)."""
    if constraints.min_accuracy is None:
        return {}
    measured = UNTRAINED_ACCURACY if accuracy is None else float(accuracy)
    return {"min_accuracy": constraints.min_accuracy - measured}


def violated(constraint_values: dict[str, float]) -> list[str]:
    """Names of the constraints a trial breaks."""
    return [name for name, value in constraint_values.items() if value > 0]
