"""Objectives read TrialRecord fields; the MnasNet reward; constraints in Optuna's convention."""

from __future__ import annotations

import pytest

from nas.config import load_config
from nas.record.trial_record import TrialRecord
from nas.trial.objectives import (
    REWARD_METRIC,
    SEARCH_OBJECTIVES,
    UNTRAINED_ACCURACY,
    ObjectiveSet,
    accuracy_constraints,
    cost_constraints,
    mnasnet_reward,
    violated,
)

MEASURED = TrialRecord(accuracy_int8=0.8, latency_ms_p50=4.0, size_bytes=120_000)


def test_mnasnet_reward():
    assert mnasnet_reward(0.8, 2.0, target_latency_ms=2.0, exponent=-0.07) == pytest.approx(0.8)
    assert mnasnet_reward(0.8, 4.0, target_latency_ms=2.0, exponent=-0.07) == pytest.approx(0.8 * 2 ** -0.07)
    with pytest.raises(ValueError, match="positive"):
        mnasnet_reward(0.8, 0.0, target_latency_ms=2.0, exponent=-0.07)


def test_objective_metrics_are_record_fields():
    for objective in SEARCH_OBJECTIVES.values():
        assert hasattr(TrialRecord(), objective.metric)
    assert hasattr(TrialRecord(), REWARD_METRIC)


def test_multi_objective_values_from_the_record():
    objectives = ObjectiveSet.from_config(load_config())
    assert objectives.multi_objective
    assert objectives.value_names == ["accuracy_int8", "latency_ms_p50", "size_bytes"]
    assert objectives.directions == ["maximize", "minimize", "minimize"]
    assert objectives.values(MEASURED) == [0.8, 4.0, 120_000.0]
    # not trained (constraint gate): accuracy counts as 0, no reward
    untrained = MEASURED.replace(accuracy_int8=None)
    assert objectives.values(untrained)[0] == UNTRAINED_ACCURACY
    assert objectives.reward_or_none(untrained) is None
    with pytest.raises(ValueError, match="latency_ms_p50"):
        objectives.values(MEASURED.replace(latency_ms_p50=None))


def test_scalar_reward_for_single_objective_strategies():
    for strategy in ("reward", "keras-tuner"):
        objectives = ObjectiveSet.from_config(load_config(overrides={"strategy.name": strategy}))
        assert not objectives.multi_objective and objectives.value_names == [REWARD_METRIC]
        expected = mnasnet_reward(0.8, 4.0, target_latency_ms=objectives.target_latency_ms,
                                  exponent=objectives.exponent)
        assert objectives.values(MEASURED) == [pytest.approx(expected)]
        assert objectives.reward_or_none(MEASURED) == pytest.approx(expected)


def test_constraints_are_feasible_at_or_below_zero():
    settings = load_config(overrides={"constraints.max_latency_ms": 5.0, "constraints.max_size_bytes": 100_000,
                                      "constraints.min_accuracy": 0.5}).constraints
    cost = cost_constraints(settings, latency_ms=4.0, size_bytes=120_000)
    assert cost == {"max_latency_ms": -1.0, "max_size_bytes": 20_000.0}
    assert violated(cost) == ["max_size_bytes"]
    assert accuracy_constraints(settings, accuracy=None) == {"min_accuracy": 0.5}
    assert violated(accuracy_constraints(settings, accuracy=0.9)) == []
