"""`nas search --strategy keras-tuner`: a KerasTuner oracle over the same space, our pipeline in
``run_trial``, results in the same study format; KerasTuner bound to tf_keras, not Keras 3."""

from __future__ import annotations

import sys

from nas.cli import main
from nas.record import study as record
from search_spaces.keras_backend import import_keras_tuner
from tests.nas.conftest import TINY_SEARCH_ARGS


def test_keras_tuner_uses_keras_2():
    kt = import_keras_tuner()
    from keras_tuner.src.backend import config

    assert not config.multi_backend()
    assert kt.HyperModel is not None
    assert getattr(sys.modules.get("keras"), "__name__", "keras") == "keras"  # tf_keras not left aliased


def test_keras_tuner_tiny_search(tmp_path):
    runs = tmp_path / "runs"
    assert main(["search", "--strategy", "keras-tuner", "--study.runs_dir", str(runs), "--study", "kt", "--quiet",
                 *TINY_SEARCH_ARGS, "--n-trials", "2"]) == 0
    study = record.open_study("kt", runs_dir=runs)
    trials = study.get_trials()
    assert record.count_done(trials) == 2 and len(trials) == 2
    assert study.user_attrs["value_names"] == ["mnasnet_reward"]
    assert trials[0].user_attrs["is_reference"] and "keras_tuner_trial_id" not in trials[0].user_attrs
    assert trials[1].user_attrs["keras_tuner_trial_id"] == "0"  # more trials: test_search_record.py
    for trial in trials:
        if trial.user_attrs["status"] == "complete":
            assert trial.value == trial.user_attrs["mnasnet_reward"] > 0
            assert trial.user_attrs["accuracy_int8"] is not None and trial.user_attrs["latency_ms_p50"] > 0
    assert (runs / "kt" / "keras_tuner" / "oracle.json").exists()
