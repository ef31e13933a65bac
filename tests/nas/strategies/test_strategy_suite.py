"""Shared cases every strategy passes (as Optuna's tests/samplers run one suite over every sampler).

Each strategy runs one search with the fake evaluator (trial 1's training fails on purpose), then
the same search again with a larger budget. The cases read what those two runs left in the study:
the target is met, MobileNetV2 is trial 0, the resumed run only tops up, the failed candidate is
recorded and the search went on, and every trial's TrialRecord round-trips. Ray starts once for
the whole module (local, 2 CPUs) and only when its case runs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.config import load_config
from nas.record import study as record
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.strategies import STRATEGIES, SearchSummary, run_search, strategy_class
from nas.strategies._trials import user_attrs_of
from nas.trial.objectives import ObjectiveSet
from search_spaces import get_baseline
from tests.nas.fakes import FakeEvaluator

FIRST_TARGET, SECOND_TARGET = 3, 5
FAILING_TRIAL = 1

# (id, config overrides): every registered strategy on the local backend, and the Ray backend.
CASES = [
    ("nsga2", {"strategy.name": "nsga2", "strategy.population_size": 4}),
    ("tpe", {"strategy.name": "tpe"}),
    ("random", {"strategy.name": "random"}),
    ("reward", {"strategy.name": "reward"}),
    ("keras-tuner", {"strategy.name": "keras-tuner", "strategy.keras_tuner.oracle": "bayesian"}),
    ("ray", {"backend.name": "ray", "strategy.name": "nsga2", "strategy.population_size": 4}),
]


@dataclasses.dataclass
class SuiteRun:
    """What the two runs of one strategy left behind."""

    name: str
    objectives: ObjectiveSet
    first: SearchSummary
    second: SearchSummary
    first_trials: dict[int, tuple[str, list[float] | None]]  # number -> (architecture, values)
    trials: list  # FrozenTrial of the study after the second run
    reference: str


@pytest.fixture(scope="module", params=CASES, ids=[case[0] for case in CASES])
def suite_run(request, tmp_path_factory) -> SuiteRun:
    name, overrides = request.param
    if name == "ray":
        request.getfixturevalue("ray_session")
    runs = tmp_path_factory.mktemp(f"suite-{name}") / "runs"

    def config(n_trials: int):
        return load_config(overrides={"study.runs_dir": str(runs), "study.name": "suite",
                                      "strategy.n_trials": n_trials, **overrides})

    evaluator = FakeEvaluator(fail_trials=(FAILING_TRIAL,))
    first = run_search(config(FIRST_TARGET), evaluator=evaluator, progress="quiet")
    study = record.open_study("suite", runs_dir=runs)
    first_trials = {t.number: (TrialRecord.from_trial(t).architecture, t.values) for t in study.get_trials()}
    second = run_search(config(SECOND_TARGET), evaluator=evaluator, progress="quiet")
    reference = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    trials = record.open_study("suite", runs_dir=runs).get_trials()
    return SuiteRun(name, ObjectiveSet.from_config(config(SECOND_TARGET)), first, second, first_trials, trials,
                    reference.to_string())


def test_every_strategy_is_in_the_suite():
    assert {name for name, _ in CASES} >= set(STRATEGIES)
    assert all(strategy_class(name).names for name in STRATEGIES)


def test_runs_to_the_target(suite_run):
    assert suite_run.first.n_done == FIRST_TARGET and suite_run.first.new_trials == FIRST_TARGET
    assert suite_run.second.n_done == SECOND_TARGET == record.count_done(suite_run.trials)
    assert len(suite_run.trials) == SECOND_TARGET  # nothing interrupted, nothing left waiting


def test_study_values_are_the_objectives_of_each_record(suite_run):
    """NSGA-II, TPE, random and Ray: the three objectives; reward and KerasTuner: the MnasNet reward."""
    study = record.open_study("suite", runs_dir=Path(suite_run.second.study_dir).parent)
    assert list(study.user_attrs["value_names"]) == suite_run.objectives.value_names
    assert len(study.directions) == len(suite_run.objectives.directions)
    for trial in suite_run.trials:
        if trial.state == TrialState.COMPLETE:
            assert trial.values == pytest.approx(suite_run.objectives.values(TrialRecord.from_trial(trial)))


def test_reference_comes_first_and_is_mobilenet_v2(suite_run):
    first = TrialRecord.from_trial(suite_run.trials[0])
    assert first.is_reference and first.reference_name == "mobilenet_v2_0.35"
    assert first.architecture == suite_run.reference
    assert suite_run.trials[0].state == TrialState.COMPLETE and first.status == TrialStatus.COMPLETE
    assert sum(TrialRecord.from_trial(t).is_reference for t in suite_run.trials) == 1
    assert suite_run.first.reference_trial == suite_run.second.reference_trial == 0


def test_resume_tops_up_without_repeating(suite_run):
    assert suite_run.second.new_trials == SECOND_TARGET - FIRST_TARGET
    now = {t.number: (TrialRecord.from_trial(t).architecture, t.values) for t in suite_run.trials}
    assert {n: now[n] for n in suite_run.first_trials} == suite_run.first_trials
    fresh = [r.architecture for r in map(TrialRecord.from_trial, suite_run.trials) if r.reused_from is None]
    assert len(fresh) == len(set(fresh))


@pytest.mark.skip_ok_in_ci("a random proposal may repeat an evaluated architecture; no component is missing")
def test_failed_candidate_is_recorded_and_the_search_goes_on(suite_run):
    failed = suite_run.trials[FAILING_TRIAL]
    failed_record = TrialRecord.from_trial(failed)
    if failed_record.reused_from is not None:
        pytest.skip("trial 1 proposed an architecture already evaluated (reused, not trained)")
    assert failed.state == TrialState.FAIL and failed_record.status == TrialStatus.FAILED
    assert failed_record.failure_reason == "loss diverged (NaN) in epoch 1"
    assert failed_record.failure_stage == "train" and record.is_done(failed)
    assert all(t.state == TrialState.COMPLETE for t in suite_run.trials[FAILING_TRIAL + 1:])


def test_every_trial_record_round_trips(suite_run):
    for trial in suite_run.trials:
        trial_record = TrialRecord.from_trial(trial)
        assert user_attrs_of(trial_record) == trial.user_attrs
        assert TrialRecord.from_user_attrs(trial_record.to_user_attrs()) == trial_record
        assert trial_record.worker is not None and trial_record.latency_source == "measured"
        if trial.state == TrialState.COMPLETE:
            assert trial_record.timings_s["total"] >= trial_record.timings_s["bookkeeping"] >= 0


def test_trials_say_where_they_ran(suite_run):
    """Optuna trials run in this process; KerasTuner's carry its trial id; Ray's ran in a worker."""
    for trial in suite_run.trials:
        trial_record = TrialRecord.from_trial(trial)
        proposed_by_tool = not (trial_record.is_reference and trial.params == {})
        if suite_run.name == "ray" and proposed_by_tool:
            assert trial_record.ray_trial_id.startswith("search-")
            assert trial_record.worker.pid != os.getpid()
        elif suite_run.name == "keras-tuner" and not trial_record.is_reference:
            assert trial_record.keras_tuner_trial_id is not None and trial_record.worker.pid == os.getpid()
        elif suite_run.name not in ("ray", "keras-tuner"):
            assert trial_record.ray_trial_id is None and trial_record.worker.pid == os.getpid()
