"""Training in rungs (early stopping): judged at each rung, checkpointed, resumed, never retrained."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from evaluators import RungPlan, TrainConfig
from evaluators.training import RUNG_STATE_NAME, fit_in_rungs, make_schedule

from .conftest import tiny_keras_model

STEPS = 5
CFG = TrainConfig(epochs=3, lr=1e-2, warmup_epochs=0.5, steps_per_epoch=STEPS, seed=0)
ARCH = "tiny"


def _fit(tmp: Path, digits: Any, plan: RungPlan, verdicts: dict[int, bool], *, resume_from: Path | None = None,
         architecture: str = ARCH) -> tuple[Any, Any, list[tuple[int, float]]]:
    calls: list[tuple[int, float]] = []

    def judge(epoch: int, accuracy: float) -> bool:
        calls.append((epoch, accuracy))
        return verdicts[epoch]

    model = tiny_keras_model()
    result = fit_in_rungs(model, digits, CFG, plan, judge, checkpoint_dir=tmp, architecture=architecture,
                          resume_from=resume_from)
    return model, result, calls


def _assert_on_the_full_schedule(model: Any, steps_done: int) -> None:
    """The last step's learning rate is the one of a single schedule over the whole budget."""
    expected = float(make_schedule(CFG, STEPS, CFG.epochs)(steps_done - 1))
    assert float(model.optimizer.learning_rate) == pytest.approx(expected, rel=1e-5)
    assert expected < 0.05 * CFG.lr  # near the end of the cosine, not at a restarted peak


def test_a_trial_stopped_at_a_rung_trains_no_further(tmp_path: Path, digits: Any) -> None:
    model, result, calls = _fit(tmp_path, digits, RungPlan((1, 2), 3), {1: False})
    assert [epoch for epoch, _ in calls] == [1]
    assert result.epochs_completed == 1 and len(result.history["loss"]) == 1
    assert result.details["stopped_at_epoch"] == 1
    assert result.details["rung_accuracies"] == {1: calls[0][1]} and result.val_accuracy == calls[0][1]
    assert int(model.optimizer.iterations) == STEPS
    assert (tmp_path / RUNG_STATE_NAME).is_file()


def test_a_promoted_trial_continues_its_schedule_to_the_end(tmp_path: Path, digits: Any) -> None:
    model, result, calls = _fit(tmp_path, digits, RungPlan((1, 2), 3), {1: True, 2: True})
    assert [epoch for epoch, _ in calls] == [1, 2]
    assert result.details["stopped_at_epoch"] is None and result.epochs_completed == 3
    assert len(result.history["loss"]) == 3 and int(model.optimizer.iterations) == 3 * STEPS
    _assert_on_the_full_schedule(model, 3 * STEPS)


def test_resume_from_a_rung_checkpoint_restores_weights_and_optimizer(tmp_path: Path, digits: Any) -> None:
    first = tmp_path / "first"
    _, stopped, calls = _fit(first, digits, RungPlan((1, 2), 3), {1: True, 2: False})
    accuracy_at_2 = calls[-1][1]
    # The same budget ends at the checkpoint: nothing is trained, the restored weights score the same.
    model, restored, more = _fit(tmp_path / "again", digits, RungPlan((1, 2), 2), {}, resume_from=first)
    assert more == [] and restored.history == {} and restored.details["resumed_from_epoch"] == 2
    assert restored.val_accuracy == pytest.approx(accuracy_at_2, abs=1e-6)
    assert int(model.optimizer.iterations) == 2 * STEPS
    assert restored.details["rung_accuracies"] == stopped.details["rung_accuracies"]
    # Promoted later: only the third epoch is trained, the step counter (so the schedule) goes on.
    model, resumed, _ = _fit(tmp_path / "third", digits, RungPlan((1, 2), 3), {}, resume_from=first)
    assert len(resumed.history["loss"]) == 1 and resumed.epochs_completed == 3
    assert int(model.optimizer.iterations) == 3 * STEPS
    _assert_on_the_full_schedule(model, 3 * STEPS)


def test_a_checkpoint_of_another_architecture_is_not_resumed(tmp_path: Path, digits: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    _fit(tmp_path / "first", digits, RungPlan((1,), 3), {1: False})
    with caplog.at_level(logging.WARNING):
        _, result, calls = _fit(tmp_path / "other", digits, RungPlan((1,), 3), {1: False},
                                resume_from=tmp_path / "first", architecture="another")
    assert "another architecture" in caplog.text
    assert result.details["resumed_from_epoch"] == 0 and [e for e, _ in calls] == [1]


@pytest.mark.parametrize(("rungs", "total", "message"), [
    ((), 3, "increasing"), ((2, 1), 3, "increasing"), ((0, 1), 3, "increasing"), ((1, 1), 3, "increasing"),
    ((1, 4), 3, "beyond the training budget of 3 epochs"),
])
def test_rung_plans_are_validated(rungs: tuple[int, ...], total: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RungPlan(rungs, total)


def test_a_rung_at_the_full_budget_is_the_end_not_a_decision() -> None:
    plan = RungPlan((1, 3, 9), 9)
    assert plan.decision_epochs == (1, 3) and plan.boundaries == (1, 3, 9)
