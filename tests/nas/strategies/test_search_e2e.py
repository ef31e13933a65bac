"""The real pipeline end to end: a tiny search (digits 16 px, one epoch, 4 trials, local profiler),
MobileNetV2 first, every metric in the study; duplicates and constraint violators on real trials."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from nas.cli import main
from nas.record import study as record
from search_spaces import get_baseline
from tests.nas.conftest import TINY_SEARCH_ARGS, copy_study


def test_tiny_search_records_everything(tiny_search_study, capsys):
    assert tiny_search_study["exit_code"] == 0
    study = record.open_study(tiny_search_study["study"], runs_dir=tiny_search_study["runs_dir"])
    trials = study.get_trials()
    assert record.count_done(trials) == 4
    reference = trials[0]
    expected = get_baseline("mobilenet_v2_0.35").with_input(resolution=16, channels=1, num_classes=10)
    assert reference.user_attrs["is_reference"] and reference.user_attrs["architecture"] == expected.to_string()
    assert reference.state == TrialState.COMPLETE and reference.user_attrs["trained"]
    for trial in trials:
        attrs = trial.user_attrs
        if attrs["status"] == "failed":
            assert attrs["failure_reason"]
            continue
        assert attrs["status"] == "complete"
        assert 0.0 <= attrs["accuracy_int8"] <= 1.0
        assert attrs["latency_ms"]["count"] >= 5 and attrs["latency_ms_p50"] > 0
        assert attrs["profiler"]["measured_by"] == "local" and attrs["device"]
        assert {"tensorflow", "litert"} <= set(attrs["versions"])
        tflite = Path(attrs["artifacts"]["tflite_int8"])
        assert tflite.parent.name == str(trial.number) and tflite.stat().st_size == attrs["size_bytes"]
        assert Path(attrs["artifacts"]["keras_model"]).exists()
        assert {"accuracy", "confusion_matrix", "keras_accuracy"} <= set(attrs["metrics"])
        assert {"build", "convert_untrained", "profile", "train", "convert", "evaluate_int8", "bookkeeping",
                "total"} <= set(attrs["timings_s"])
        assert trial.values == [attrs["accuracy_int8"], attrs["latency_ms_p50"], attrs["size_bytes"]]
    assert main(["trials", "--study", "tiny", "--runs-dir", str(tiny_search_study["runs_dir"])]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_duplicate_reused_and_violator_not_trained(tiny_search_study, tmp_path):
    info = copy_study(tiny_search_study, tmp_path)
    base = ["search", "--study.runs_dir", str(info["runs_dir"]), "--study", "tiny", "--quiet", *TINY_SEARCH_ARGS]
    study = record.open_study("tiny", runs_dir=info["runs_dir"])
    first = study.trials[1]
    study.enqueue_trial(dict(first.params))
    assert main([*base, "--n-trials", "5"]) == 0
    duplicate = record.open_study("tiny", runs_dir=info["runs_dir"]).trials[4]
    assert duplicate.user_attrs["reused_from"] == 1 and duplicate.values == first.values
    assert "train" not in duplicate.user_attrs["timings_s"]
    assert not (info["runs_dir"] / "tiny" / "trials" / "4").exists()

    # A new architecture under an impossible latency bound: measured, recorded infeasible, not trained.
    seen = {t.user_attrs["architecture"] for t in study.trials}
    params = dict(study.trials[0].params, width=0.5)
    study.enqueue_trial(params)
    assert main([*base, "--n-trials", "6", "--max-latency-ms", "0.000001"]) == 0
    violator = record.open_study("tiny", runs_dir=info["runs_dir"]).trials[5]
    assert violator.user_attrs["architecture"] not in seen
    assert violator.user_attrs["status"] == "infeasible" and violator.user_attrs["trained"] is False
    assert violator.user_attrs["constraint_violations"] == ["max_latency_ms"]
    assert violator.constraints["max_latency_ms"] > 0 and violator.user_attrs["latency_ms_p50"] > 0
    assert "train" not in violator.user_attrs["timings_s"]
    trial_dir = info["runs_dir"] / "tiny" / "trials" / "5"
    assert (trial_dir / "model_int8_untrained.tflite").exists() and not (trial_dir / "model.keras").exists()
    assert violator.number not in {t.number for t in optuna.load_study(
        study_name="tiny", storage=info["storage"]).best_trials}


def test_missing_dataset_stops_without_a_resume_hint(tmp_path, capsys):
    """No study was made, so there is nothing to resume (issue 12); with a study the hint is printed
    (tests/nas/cli/test_bad_input.py)."""
    missing = tmp_path / "no_such_folder"
    code = main(["search", "--study.runs_dir", str(tmp_path / "runs"), "--quiet",
                 "--dataset", f"folder:{missing}", "--set", "search_space.channels=3"])
    err = capsys.readouterr().err
    assert code == 1
    assert "stopped: dataset" in err and str(missing) in err
    assert "resume" not in err


def test_study_is_readable_by_the_optuna_cli(tiny_search_study):
    """The record is a plain Optuna study: the `optuna` CLI reads it with no extra steps."""
    import json
    import subprocess
    import sys

    optuna_cli = Path(sys.executable).with_name("optuna")
    completed = subprocess.run(
        [str(optuna_cli), "trials", "--study-name", tiny_search_study["study"],
         "--storage", tiny_search_study["storage"], "-f", "json"],
        capture_output=True, text=True, timeout=120, check=True)
    trials = json.loads(completed.stdout)
    assert len(trials) == 4
    assert trials[0]["user_attrs"]["is_reference"] is True
    assert all("architecture" in t["user_attrs"] for t in trials)
