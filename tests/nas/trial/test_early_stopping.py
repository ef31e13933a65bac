"""The MO-ASHA rule (issue 17): who goes on at a rung, and the Pareto orderings behind it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from nas import pareto
from nas.config import load_config
from nas.config.settings import ConstraintSettings
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.trial.early_stopping import EarlyStopping, RungPoint
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialPipeline
from search_spaces import get_baseline
from tests.nas.fakes import RungFakeEvaluator

MAX_MIN_MIN = ["maximize", "minimize", "minimize"]


def _rule(factor: float = 3, tie_break: str = "epsilon_net",
          objectives: tuple[str, ...] = ("accuracy", "latency", "size")) -> EarlyStopping:
    return EarlyStopping((1, 3), factor, tie_break, objectives)


def test_keep_count_is_the_top_fraction_and_at_least_one() -> None:
    rule = _rule(3)
    assert [rule.keep_count(n) for n in (1, 2, 3, 5, 6, 9, 10)] == [1, 1, 1, 1, 2, 3, 3]


def test_the_first_trial_at_a_rung_goes_on() -> None:
    assert _rule().promoted(RungPoint(0, 0.1, 5.0, 100), [])


def test_a_dominated_trial_is_stopped_and_a_dominating_one_goes_on() -> None:
    good, bad = RungPoint(0, 0.9, 1.0, 100), RungPoint(1, 0.5, 2.0, 200)
    third = RungPoint(2, 0.7, 1.5, 150)
    assert not _rule().promoted(bad, [good, third])
    assert _rule().promoted(good, [bad, third])


def test_a_fast_trial_on_the_front_can_beat_a_more_accurate_slow_one_with_spread() -> None:
    """Six trials on one front, keep two: the most accurate and the one farthest from it (epsilon-net)."""
    front = [RungPoint(i, 0.5 + 0.08 * i, 1.0 + i, 100 + 10 * i) for i in range(6)]
    rule = _rule(3)
    went_on = [p.trial_number for p in front if rule.promoted(p, [q for q in front if q is not p])]
    assert went_on == [0, 5]  # the fastest (least accurate) and the most accurate


def test_only_the_configured_objectives_rank() -> None:
    """With accuracy alone, it is plain successive halving on the accuracy at the rung."""
    points = [RungPoint(i, acc, 1.0 / (i + 1), 100) for i, acc in enumerate([0.3, 0.9, 0.6])]
    rule = _rule(3, objectives=("accuracy",))
    assert [rule.promoted(p, [q for q in points if q is not p]) for p in points] == [False, True, False]


def test_a_point_without_a_cost_is_left_out_and_an_own_missing_cost_goes_on() -> None:
    rule = _rule(2)
    unknown = RungPoint(1, 0.99, None, 100)
    assert rule.promoted(RungPoint(0, 0.5, 1.0, 100), [unknown])
    assert rule.promoted(unknown, [RungPoint(0, 0.5, 1.0, 100), RungPoint(2, 0.6, 1.0, 100)])


def test_crowding_distance_matches_nsga2_by_hand() -> None:
    points = [[0.9, 4.0, 1.0], [0.8, 2.0, 1.0], [0.5, 1.0, 1.0], [0.85, 3.0, 1.0]]
    distance = pareto.crowding_distance(points, MAX_MIN_MIN)
    assert np.isinf(distance[0]) and np.isinf(distance[2])
    # point 1: accuracy neighbours 0.85 and 0.5 over span 0.4; latency neighbours 3 and 1 over span 3.
    assert distance[1] == pytest.approx(0.35 / 0.4 + 2 / 3)
    assert distance[3] == pytest.approx(0.1 / 0.4 + 2 / 3)


def test_promotion_order_takes_fronts_first_whatever_the_tie_break() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((12, 3))
    ranks = pareto.non_dominated_sort(points, MAX_MIN_MIN)
    for tie_break in ("epsilon_net", "crowding"):
        order = pareto.promotion_order(points, MAX_MIN_MIN, tie_break=tie_break)
        assert sorted(order) == list(range(12))
        assert list(ranks[order]) == sorted(ranks)


def test_epsilon_net_each_next_point_is_the_farthest_from_those_taken() -> None:
    rng = np.random.default_rng(1)
    points = rng.random((8, 2))
    order = pareto.epsilon_net_order(points, ["minimize", "minimize"], first=3)
    scaled = (points - points.min(0)) / (points.max(0) - points.min(0))
    for k in range(1, len(order)):
        taken = scaled[order[:k]]
        gaps = [min(np.linalg.norm(scaled[i] - t) for t in taken) for i in range(8) if i not in order[:k]]
        assert min(np.linalg.norm(scaled[order[k]] - t) for t in taken) == pytest.approx(max(gaps))


def test_an_unknown_tie_break_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tie_break 'vote'"):
        pareto.promotion_order([[1.0, 1.0]], MAX_MIN_MIN[:2], tie_break="vote")


def test_permuting_the_others_does_not_change_the_decision() -> None:
    rng = np.random.default_rng(2)
    others = [RungPoint(i + 1, float(a), float(b), int(c)) for i, (a, b, c) in
              enumerate(zip(rng.random(5), rng.random(5) + 1, rng.integers(100, 200, 5), strict=True))]
    own = RungPoint(0, 0.6, 1.4, 150)
    decisions = {_rule(2).promoted(own, list(perm)) for perm in itertools.permutations(others)}
    assert len(decisions) == 1


def _pipeline(tmp_path: Path, evaluator: RungFakeEvaluator) -> TrialPipeline:
    objectives = ObjectiveSet.from_config(load_config())
    return TrialPipeline(evaluator, objectives, ConstraintSettings(None, None, None), tmp_path,
                         early_stopping=_rule(2), training_epochs=3)


def test_a_retried_trial_resumes_from_the_rung_checkpoint_of_the_trial_it_retries(tmp_path: Path) -> None:
    evaluator = RungFakeEvaluator()
    arch = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    pipeline = _pipeline(tmp_path, evaluator)
    stop_at_1 = pipeline.run(arch, trial_number=5, own=TrialRecord(retry_of=2),
                             judge_for=lambda record: lambda epoch, accuracy: False)
    assert evaluator.resumed_from == [tmp_path / "trials" / "2" / "rungs"]
    assert stop_at_1.pruned and stop_at_1.record.status == TrialStatus.PRUNED
    assert stop_at_1.record.stopped_at_epoch == stop_at_1.record.epochs_trained == 1
    assert stop_at_1.values is not None  # its values where it stopped (KerasTuner's oracle is told them)
    to_the_end = pipeline.run(arch, trial_number=6, judge_for=lambda record: lambda epoch, accuracy: True)
    assert evaluator.resumed_from[-1] is None and not to_the_end.pruned
    assert to_the_end.record.epochs_trained == 3 and sorted(to_the_end.record.rung_accuracies) == [1]


def test_without_a_judge_the_pipeline_trains_as_before(tmp_path: Path) -> None:
    evaluator = RungFakeEvaluator()
    arch = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    outcome = _pipeline(tmp_path, evaluator).run(arch, trial_number=0)
    assert evaluator.resumed_from == [] and outcome.record.epochs_trained is None and not outcome.pruned
