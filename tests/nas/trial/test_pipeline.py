"""The trial pipeline alone (no study): cheap measurement -> gate -> training -> a TrialRecord."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from nas.config import load_config
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.trial.latency import LatencySource
from nas.trial.objectives import ObjectiveSet
from nas.trial.pipeline import TrialPipeline
from nas.trial.protocol import CostMeasurement
from search_spaces import get_baseline
from tests.nas.fakes import FakeEvaluator

ARCH = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)


def _pipeline(tmp_path, evaluator=None, latency_source=None, **overrides) -> TrialPipeline:
    config = load_config(overrides=overrides)
    return TrialPipeline(evaluator or FakeEvaluator(), ObjectiveSet.from_config(config), config.constraints,
                         tmp_path, latency_source=latency_source)


def test_complete_trial(tmp_path):
    outcome = _pipeline(tmp_path).run(ARCH, trial_number=3)
    record = outcome.record
    assert outcome.state == TrialState.COMPLETE and record.status == TrialStatus.COMPLETE
    assert record.architecture == ARCH.to_string() and record.trained and record.accuracy_int8 > 0
    assert record.latency_source == "measured" and record.latency_ms_p50 == record.latency_ms["p50"]
    assert outcome.values == [record.accuracy_int8, record.latency_ms_p50, record.size_bytes]
    assert record.mnasnet_reward is not None and record.constraint_violations == ()
    assert {"build", "train", "bookkeeping", "total"} <= set(record.timings_s)
    assert (tmp_path / "trials" / "3").is_dir()


def test_own_fields_are_kept(tmp_path):
    own = TrialRecord(is_reference=True, reference_name="mobilenet_v2_0.35", retry_of=2, ray_trial_id="search-0/a")
    record = _pipeline(tmp_path).run(ARCH, trial_number=0, own=own, epochs=3).record
    assert (record.is_reference, record.reference_name, record.retry_of, record.ray_trial_id) == (
        True, "mobilenet_v2_0.35", 2, "search-0/a")
    assert record.proxy_epochs == 3


def test_constraint_gate_measures_but_does_not_train(tmp_path):
    evaluator = FakeEvaluator()
    outcome = _pipeline(tmp_path, evaluator, **{"constraints.max_latency_ms": 0.001}).run(ARCH, trial_number=0)
    assert outcome.state == TrialState.COMPLETE and outcome.record.status == TrialStatus.INFEASIBLE
    assert not outcome.record.trained and outcome.record.accuracy_int8 is None and not evaluator.train_calls
    assert outcome.record.constraint_violations == ("max_latency_ms",) and outcome.values[0] == 0.0
    assert outcome.constraints["max_latency_ms"] > 0


def test_failed_training_is_an_outcome_not_an_exception(tmp_path):
    outcome = _pipeline(tmp_path, FakeEvaluator(fail_trials=(0,))).run(ARCH, trial_number=0)
    assert outcome.failed and outcome.values is None
    assert outcome.record.status == TrialStatus.FAILED and outcome.record.failure_stage == "train"


def test_duplicate_reuses_the_earlier_record(tmp_path):
    pipeline = _pipeline(tmp_path)
    first = pipeline.run(ARCH, trial_number=0)
    previous = optuna.trial.create_trial(state=TrialState.COMPLETE, values=first.values,
                                         user_attrs=first.record.to_user_attrs())
    previous.number = 0
    evaluator = pipeline.evaluator
    calls = len(evaluator.cost_calls)
    again = pipeline.run(ARCH, trial_number=1, previous=previous, own=TrialRecord(keras_tuner_trial_id="7"))
    assert len(evaluator.cost_calls) == calls and again.values == first.values
    assert again.record.reused_from == 0 and again.record.keras_tuner_trial_id == "7"
    assert "train" not in again.record.timings_s
    assert again.record.replace(reused_from=None, keras_tuner_trial_id=None, timings_s={}) == first.record.replace(
        timings_s={})


def test_a_latency_source_is_a_slot(tmp_path):
    class Halved(LatencySource):
        name = "halved"

        def measure_cost(self, evaluator, arch, trial_dir) -> CostMeasurement:
            cost = evaluator.measure_cost(arch, trial_dir)
            cost.latency_ms = {k: v / 2 for k, v in cost.latency_ms.items()}
            return cost

    measured = _pipeline(tmp_path).run(ARCH, trial_number=0).record
    halved = _pipeline(tmp_path, latency_source=Halved()).run(ARCH, trial_number=1).record
    assert halved.latency_source == "halved"
    assert halved.latency_ms_p50 == pytest.approx(measured.latency_ms_p50 / 2)
