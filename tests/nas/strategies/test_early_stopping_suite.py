"""Early stopping (MO-ASHA, issue 17) under every strategy that trains per trial, with the fake evaluator.

Each case runs a search whose trials train in rungs (1 and 2 of 3 epochs, reduction factor 2). The
cases check that trials were stopped and recorded as pruned, that every decision is the MO-ASHA rule
applied to the trials that had reached the rung before, that pruned trials stay out of the front,
that the reference is never stopped, and that `nas trials` shows the rung each trial reached.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.config import load_config
from nas.record import study as record
from nas.record.trial_record import TrialRecord, TrialStatus
from nas.results.trials import trials_table
from nas.strategies import SearchSummary, run_search
from nas.strategies._setup import early_stopping_of
from nas.trial.early_stopping import RungPoint
from tests.nas.fakes import RungFakeEvaluator

N_TRIALS = 9
OVERRIDES = {"early_stopping.rungs": "1,2", "early_stopping.reduction_factor": 2, "training.epochs": 3}
CASES = [
    ("nsga2", {"strategy.name": "nsga2", "strategy.population_size": 4}),
    ("random", {"strategy.name": "random"}),
    ("crowding", {"strategy.name": "random", "early_stopping.tie_break": "crowding"}),
    ("keras-tuner", {"strategy.name": "keras-tuner", "strategy.keras_tuner.oracle": "bayesian"}),
    ("ray", {"backend.name": "ray", "strategy.name": "nsga2", "strategy.population_size": 4}),
]


@dataclasses.dataclass
class EarlyRun:
    name: str
    summary: SearchSummary
    trials: list
    config: object
    evaluator: RungFakeEvaluator


@pytest.fixture(scope="module", params=CASES, ids=[case[0] for case in CASES])
def early_run(request, tmp_path_factory) -> EarlyRun:
    name, overrides = request.param
    if name == "ray":
        request.getfixturevalue("ray_session")
    runs = tmp_path_factory.mktemp(f"early-{name}") / "runs"
    config = load_config(overrides={"study.runs_dir": str(runs), "study.name": "early",
                                    "strategy.n_trials": N_TRIALS, **OVERRIDES, **overrides})
    evaluator = RungFakeEvaluator()
    summary = run_search(config, evaluator=evaluator, progress="quiet")
    trials = record.open_study("early", runs_dir=runs).get_trials()
    return EarlyRun(name, summary, trials, config, evaluator)


def _trained(run: EarlyRun) -> list:
    return [t for t in run.trials if TrialRecord.from_trial(t).rung_accuracies
            and TrialRecord.from_trial(t).reused_from is None]


def test_trials_are_stopped_at_rungs_and_recorded_as_pruned(early_run):
    assert early_run.summary.n_done == N_TRIALS == record.count_done(early_run.trials)
    pruned = [t for t in early_run.trials if t.state == TrialState.PRUNED]
    assert pruned, "no trial was stopped"
    for trial in pruned:
        trial_record = TrialRecord.from_trial(trial)
        assert trial_record.status == TrialStatus.PRUNED and trial_record.stopped_at_epoch in (1, 2)
        assert max(trial_record.rung_accuracies) == trial_record.stopped_at_epoch
        assert trial_record.accuracy_int8 == trial_record.rung_accuracies[trial_record.stopped_at_epoch]
    finished = [t for t in early_run.trials if t.state == TrialState.COMPLETE and not TrialRecord.from_trial(t).reused_from]
    assert all(sorted(TrialRecord.from_trial(t).rung_accuracies) == [1, 2] for t in finished)


def test_every_decision_is_the_mo_asha_rule_on_the_trials_before(early_run):
    """Trials run one at a time here, so the trials at a rung when one was judged are the earlier ones."""
    rule = early_stopping_of(early_run.config)
    trained = _trained(early_run)
    for trial in trained:
        trial_record = TrialRecord.from_trial(trial)
        for epoch in trial_record.rung_accuracies:
            before = [_point(t, epoch) for t in trained if t.number < trial.number
                      and epoch in TrialRecord.from_trial(t).rung_accuracies]
            went_on = trial_record.stopped_at_epoch != epoch
            expected = trial_record.is_reference or rule.promoted(_point(trial, epoch), before)
            assert went_on == expected, f"trial {trial.number} at rung {epoch}"


def _point(trial, epoch: int) -> RungPoint:
    trial_record = TrialRecord.from_trial(trial)
    return RungPoint(trial.number, trial_record.rung_accuracies[epoch], trial_record.latency_ms_p50,
                     trial_record.size_bytes)


def test_the_reference_is_never_stopped_and_pruned_trials_are_off_the_front(early_run):
    reference = early_run.trials[0]
    assert TrialRecord.from_trial(reference).is_reference and reference.state == TrialState.COMPLETE
    study = record.open_study("early", runs_dir=Path(early_run.summary.study_dir).parent)
    if len(study.directions) > 1:
        assert all(t.state == TrialState.COMPLETE for t in study.best_trials)
    pruned = {t.number for t in early_run.trials if t.state == TrialState.PRUNED}
    assert not pruned & set(early_run.summary.best_trials)


def test_nas_trials_shows_the_rung_each_trial_reached(early_run):
    study = record.open_study("early", runs_dir=Path(early_run.summary.study_dir).parent)
    rungs = dict(zip(*(trials_table(study)[column] for column in ("trial", "rung")), strict=True))
    for trial in early_run.trials:
        trial_record = TrialRecord.from_trial(trial)
        if trial.state == TrialState.PRUNED:
            assert rungs[trial.number] == trial_record.stopped_at_epoch
        elif trial_record.trained:
            assert rungs[trial.number] == 3
