"""`nas search --backend ray` on a local Ray instance (2 CPUs) with tiny real trials: the same study
record as the local backend, MobileNetV2 first; a second run resumes (Tuner.restore) and tops up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.cli import main
from nas.record import study as record
from tests.nas.conftest import TINY_SEARCH_ARGS

ray = pytest.importorskip("ray")


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend_tiny_search(local_ray, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default relative runs/ folder: workers must still find the study
    runs = tmp_path / "runs"
    args = ["search", "--backend", "ray", "--study", "rayed", "--quiet", *TINY_SEARCH_ARGS]
    assert main([*args, "--n-trials", "2"]) == 0
    study = record.open_study("rayed", runs_dir=runs)
    trials = study.get_trials()
    assert record.count_done(trials) == 2 and len(trials) == 2
    assert trials[0].user_attrs["is_reference"] and trials[0].user_attrs["reference_name"] == "mobilenet_v2_0.35"
    for trial in trials:
        attrs = trial.user_attrs
        assert attrs["ray_trial_id"].startswith("search-0/")
        assert attrs["worker"]["pid"] != os.getpid()  # evaluated in a Ray worker, not in the driver
        if trial.state == TrialState.COMPLETE:
            assert trial.values == [attrs["accuracy_int8"], attrs["latency_ms_p50"], attrs["size_bytes"]]
            assert Path(attrs["artifacts"]["tflite_int8"]).exists()
            assert set(trial.params) and attrs["latency_ms"]["count"] >= 5
    assert (runs / "rayed" / "ray" / "search-0").is_dir()
    # the proposer's memory is an Optuna study in the same storage
    assert record.open_study("rayed:ray-proposer", storage=f"sqlite:///{runs / 'rayed' / 'study.db'}")

    # The same command with a larger budget: restores the finished experiment, then adds one trial.
    assert main([*args, "--n-trials", "3"]) == 0
    trials = record.open_study("rayed", runs_dir=runs).get_trials()
    assert record.count_done(trials) == 3 and len(trials) == 3
    assert trials[2].user_attrs["ray_trial_id"].startswith("search-1/")
