"""The search loop with a fake evaluator: the full record, duplicates, constraints, resume, interrupted
and fatal trials, storages, progress, `nas trials`. What every strategy must do is in
test_strategy_suite.py; the real evaluators run in test_search_e2e.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from nas.cli import main
from nas.config import load_config
from nas.record import study as record
from nas.record.recovery import worker_identity
from nas.record.trial_record import TrialRecord, WorkerIdentity
from nas.strategies import build_setup, run_search
from nas.strategies._trials import start_external_trial
from nas.trial.objectives import mnasnet_reward
from search_spaces import get_baseline
from tests.nas.fakes import FakeEvaluator


def _config(tmp_path, **overrides):
    values = {"study.runs_dir": str(tmp_path / "runs"), "study.name": "fake", "strategy.n_trials": 5}
    values.update(overrides)
    return load_config(overrides=values)


def _study(config):
    return record.open_study(config.study.name, config.study.storage, config.study.runs_dir)


def test_reference_first_and_full_record(tmp_path):
    config = _config(tmp_path)
    evaluator = FakeEvaluator()
    summary = run_search(config, evaluator=evaluator, progress="quiet")
    study = _study(config)
    trials = study.get_trials()
    assert summary.n_done == 5 and len(trials) == 5
    reference = trials[0]
    expected = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    assert reference.user_attrs["is_reference"] is True
    assert reference.user_attrs["reference_name"] == "mobilenet_v2_0.35"
    assert reference.user_attrs["architecture"] == expected.to_string()
    assert reference.params["width"] == 0.35  # enqueued with its choices, so the sampler sees it
    assert sum(t.user_attrs["is_reference"] for t in trials) == 1
    for trial in trials:
        attrs = trial.user_attrs
        assert trial.state == TrialState.COMPLETE and attrs["status"] == "complete"
        assert trial.values == [attrs["accuracy_int8"], attrs["latency_ms_p50"], attrs["size_bytes"]]
        assert set(attrs["latency_ms"]) >= {"p50", "p90", "mean", "std", "count"}
        assert attrs["device"] == {"machine": "fake"} and attrs["params"] > 0 and attrs["macs"] > 0
        assert {"build", "convert_untrained", "profile", "train", "bookkeeping", "total"} <= set(attrs["timings_s"])
        assert attrs["artifacts"]["tflite_int8"].endswith(f"trials/{trial.number}/model_int8.tflite")
        assert attrs["worker"]["pid"] == os.getpid()
        assert attrs["mnasnet_reward"] == pytest.approx(
            mnasnet_reward(attrs["accuracy_int8"], attrs["latency_ms_p50"], target_latency_ms=2.0, exponent=-0.07))
    assert study.user_attrs["objectives"] == ["accuracy", "latency", "size"]
    assert study.user_attrs["value_names"] == ["accuracy_int8", "latency_ms_p50", "size_bytes"]
    assert study.user_attrs["config"]["strategy"]["n_trials"] == 5
    assert study.user_attrs["study_dir"] == str((tmp_path / "runs" / "fake").resolve())
    assert summary.reference_trial == 0 and summary.best_trials


def test_duplicate_architecture_is_not_evaluated_again(tmp_path):
    config = _config(tmp_path, **{"strategy.n_trials": 3})
    evaluator = FakeEvaluator()
    setup = build_setup(config, evaluator)
    study = optuna.create_study(study_name="fake", storage=record.storage_from_url(config.storage_url),
                                directions=["maximize", "minimize", "minimize"])
    params = setup.reference_params
    study.enqueue_trial(params)
    study.enqueue_trial(params)  # the same architecture again, not as the reference
    run_search(config, evaluator=evaluator, progress="quiet")
    trials = _study(config).get_trials()
    assert trials[1].user_attrs["architecture"] == trials[2].user_attrs["architecture"]
    duplicate = [t for t in trials if t.user_attrs["reused_from"] is not None]
    assert len(duplicate) >= 2  # the enqueued copy and the reference both reuse the first evaluation
    assert all(t.values == trials[1].values for t in duplicate)
    assert all(t.user_attrs["timings_s"].get("train") is None for t in duplicate)
    assert len(evaluator.train_calls) == len(set(evaluator.train_calls)) == len(evaluator.cost_calls)
    assert not (tmp_path / "runs" / "fake" / "trials" / str(duplicate[-1].number)).exists()


def test_constraint_violator_is_measured_not_trained(tmp_path):
    # The fake latency is MACs / 1e6 ms: MobileNetV2 0.35 at 32 px is ~6 ms, so 6.5 ms splits the space.
    config = _config(tmp_path, **{"constraints.max_latency_ms": 6.5, "constraints.min_accuracy": 0.1,
                                  "strategy.n_trials": 6})
    evaluator = FakeEvaluator()
    run_search(config, evaluator=evaluator, progress="quiet")
    study = _study(config)
    infeasible = [t for t in study.trials if t.user_attrs["status"] == "infeasible"]
    feasible = [t for t in study.trials if t.user_attrs["status"] == "complete"]
    assert infeasible and feasible
    for trial in infeasible:
        assert trial.state == TrialState.COMPLETE
        assert trial.user_attrs["trained"] is False and trial.user_attrs["accuracy_int8"] is None
        assert trial.user_attrs["latency_ms_p50"] > 6.5 and trial.user_attrs["size_bytes"] > 0
        assert "max_latency_ms" in trial.user_attrs["constraint_violations"]
        assert trial.constraints["max_latency_ms"] > 0 and trial.values[0] == 0.0
        assert trial.user_attrs["architecture"] not in evaluator.train_calls
    for trial in feasible:
        assert trial.constraints["max_latency_ms"] <= 0 and trial.constraints["min_accuracy"] <= 0
    assert {t.number for t in study.best_trials} <= {t.number for t in feasible}


def test_resume_continues_without_repeating(tmp_path):
    evaluator = FakeEvaluator()
    run_search(_config(tmp_path, **{"strategy.n_trials": 3}), evaluator=evaluator, progress="quiet")
    before = {t.number: (t.values, t.user_attrs["architecture"]) for t in _study(_config(tmp_path)).trials}
    summary = run_search(_config(tmp_path, **{"strategy.n_trials": 6}), evaluator=evaluator, progress="quiet")
    trials = _study(_config(tmp_path)).trials
    assert summary.new_trials == 3 and len(trials) == 6
    assert {n: (trials[n].values, trials[n].user_attrs["architecture"]) for n in before} == before
    fresh = [t.user_attrs["architecture"] for t in trials if t.user_attrs["reused_from"] is None]
    assert len(fresh) == len(set(fresh))
    # the same command again: nothing to do
    assert run_search(_config(tmp_path, **{"strategy.n_trials": 6}), evaluator=evaluator,
                      progress="quiet").new_trials == 0


def test_interrupted_trial_is_failed_and_retried_with_the_same_params(tmp_path):
    config = _config(tmp_path, **{"strategy.n_trials": 2})
    evaluator = FakeEvaluator()
    run_search(config, evaluator=evaluator, progress="quiet")
    study = _study(config)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    params = dict(study.trials[1].params)
    params["width"] = 0.5
    setup = build_setup(config, evaluator)
    distributions = {c.name: optuna.distributions.CategoricalDistribution(list(c.values))
                     for c in setup.space.parameters() if c.name in params}
    worker = WorkerIdentity(host=worker_identity().host, pid=int(dead.stdout), started=None)
    start_external_trial(study, params=params, distributions=distributions, own=TrialRecord(worker=worker))
    summary = run_search(_config(tmp_path, **{"strategy.n_trials": 3}), evaluator=evaluator, progress="quiet")
    trials = _study(config).trials
    assert summary.recovered_trials == [2]
    assert trials[2].state == TrialState.FAIL and trials[2].user_attrs["status"] == "interrupted"
    assert trials[3].user_attrs["retry_of"] == 2 and trials[3].params == params
    assert trials[3].state == TrialState.COMPLETE
    assert record.count_done(trials) == 3


def test_journal_storage_and_open_study(tmp_path):
    journal = tmp_path / "shared" / "study.log"
    config = _config(tmp_path, **{"study.storage": f"journal:///{journal}", "strategy.n_trials": 2})
    run_search(config, evaluator=FakeEvaluator(), progress="quiet")
    assert journal.is_file()
    study = record.open_study(storage=f"journal:///{journal}")  # the only study in it
    assert study.study_name == "fake" and record.count_done(study.trials) == 2
    with pytest.raises(record.StudyError, match="has no study 'other'"):
        record.open_study("other", storage=f"journal:///{journal}")
    with pytest.raises(record.StudyError, match="is not a storage URL"):
        record.storage_from_url("runs/x.db")


def test_other_objectives_are_refused_on_an_existing_study(tmp_path):
    run_search(_config(tmp_path, **{"strategy.n_trials": 1}), evaluator=FakeEvaluator(), progress="quiet")
    with pytest.raises(record.StudyError, match="optimizes"):
        run_search(_config(tmp_path, **{"strategy.n_trials": 2, "objectives": "accuracy,latency"}),
                   evaluator=FakeEvaluator(), progress="quiet")


def test_json_progress_lines(tmp_path, capsys):
    run_search(_config(tmp_path, **{"strategy.n_trials": 2}), evaluator=FakeEvaluator(), progress="json")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["trial"] for line in lines] == [0, 1]
    assert lines[0]["is_reference"] and lines[0]["event"] == "trial" and lines[0]["accuracy_int8"] > 0


def test_bar_progress_has_one_line_per_trial(tmp_path, capsys):
    run_search(_config(tmp_path, **{"strategy.n_trials": 2}), evaluator=FakeEvaluator(), progress="bar")
    err = capsys.readouterr().err
    assert "trial 0 [reference] complete acc_int8=" in err and "trial 1 complete" in err
    best = max(t.user_attrs["accuracy_int8"] for t in _study(_config(tmp_path)).trials)
    assert "2/2" in err and f"best_acc={best:.4f}" in err.rsplit("2/2", 1)[1] and "front=" in err


def test_trials_command(tmp_path, capsys):
    config = _config(tmp_path, **{"strategy.n_trials": 3})
    run_search(config, evaluator=FakeEvaluator(), progress="quiet")
    runs = str(tmp_path / "runs")
    assert main(["trials", "--study", "fake", "--runs-dir", runs]) == 0
    table = capsys.readouterr().out
    assert "mobilenet_v2_0.35" in table and "accuracy_int8" in table and len(table.splitlines()) == 4
    csv_path = tmp_path / "trials.csv"
    assert main(["trials", "--study", "fake", "--runs-dir", runs, "--csv", str(csv_path)]) == 0
    import pandas as pd

    frame = pd.read_csv(csv_path)
    assert len(frame) == 3 and {"latency_ms_p90", "time_s_train", "artifact_tflite_int8"} <= set(frame.columns)
    assert main(["trials", "--study", "fake", "--runs-dir", runs, "--json", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["user_attrs"]["is_reference"] and rows[0]["params"]["width"] == 0.35
    assert main(["trials", "--study", "nope", "--runs-dir", runs]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


TINY_SPACE = """
name: tiny
resolution: [32]
width: [0.5, 1.0]
stem: {channels: 16, kernel: 3, stride: 2, activation: relu6}
head: {channels: 64, dropout: 0.0, activation: relu6}
stages:
  - {channels: 16, stride: 2, block: [mbconv, fused_mbconv], expansion: [3, 6], kernel: [3, 5], depth: [1, 2]}
  - {channels: 32, stride: 2, expansion: [3, 6], kernel: 3, depth: [1, 2]}
"""


def test_reference_outside_the_space_is_evaluated_as_given(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    config = _config(tmp_path, **{"search_space.source": str(space), "strategy.n_trials": 3})
    run_search(config, evaluator=FakeEvaluator(), progress="quiet")
    trials = _study(config).trials
    expected = get_baseline("mobilenet_v2_0.35").with_input(resolution=32, channels=1, num_classes=10)
    assert trials[0].user_attrs["architecture"] == expected.to_string() and trials[0].params == {}
    assert all(t.user_attrs["architecture"].endswith("head_c64_relu6-cls10") for t in trials[1:])


@pytest.mark.parametrize("oracle", ["bayesian", "hyperband"])
def test_keras_tuner_strategy_bookkeeping(tmp_path, oracle):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    overrides = {"search_space.source": str(space), "strategy.name": "keras-tuner", "strategy.n_trials": 4,
                 "strategy.keras_tuner.oracle": oracle, "strategy.keras_tuner.max_epochs": 3}
    evaluator = FakeEvaluator()
    run_search(_config(tmp_path, **overrides), evaluator=evaluator, progress="quiet")
    trials = _study(_config(tmp_path)).trials
    assert record.count_done(trials) == 4 and trials[0].user_attrs["is_reference"]
    assert trials[0].params == {}  # MobileNetV2 is outside the tiny space: evaluated as given
    assert [t.user_attrs["keras_tuner_trial_id"] for t in trials[1:]] == ["0", "1", "2"]
    if oracle == "hyperband":
        assert {t.user_attrs["proxy_epochs"] for t in trials[1:]} <= {1, 3}
    # resume: KerasTuner reloads its oracle and adds exactly the missing trials
    overrides["strategy.n_trials"] = 5
    summary = run_search(_config(tmp_path, **overrides), evaluator=evaluator, progress="quiet")
    assert summary.n_done == 5 and summary.new_trials == 1


def test_fatal_error_stops_the_search_and_resume_retries_it(tmp_path):
    from nas.trial.protocol import FatalSearchError

    config = _config(tmp_path, **{"strategy.n_trials": 4})
    with pytest.raises(FatalSearchError, match="unreachable"):
        run_search(config, evaluator=FakeEvaluator(fatal_after=2), progress="quiet")
    trials = _study(config).trials
    assert record.count_done(trials) == 2
    stopped = trials[2]
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["status"] == "interrupted"
    assert "unreachable" in stopped.user_attrs["failure_reason"]
    summary = run_search(config, evaluator=FakeEvaluator(), progress="quiet")
    trials = _study(config).trials
    assert summary.n_done == 4 and trials[3].user_attrs["retry_of"] == 2 and trials[3].params == stopped.params
