"""Every strategy searches with ``evaluator: supernet`` (issue 16): NSGA-II, TPE, random, the MnasNet reward
and KerasTuner in this process, NSGA-II on Ray Tune in worker processes, each scoring with the real
inherited-weights evaluator on the session's tiny supernet. Each trial records ``accuracy_source: inherited`` and which supernet;
a process loads the supernet once (Ray: once per worker, shown by the one trial per worker that
reports ``timings_s.load_supernet``).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from nas.record import study as record
from nas.record.trial_record import ACCURACY_INHERITED, TrialRecord, TrialStatus
from nas.strategies import STRATEGIES, run_search
from nas.trial.supernet import supernet_fingerprint
from tests.nas.supernet_study import supernet_config

N_TRIALS = 3
CASES = [
    ("nsga2", {"strategy.name": "nsga2", "strategy.population_size": 2}),
    ("tpe", {"strategy.name": "tpe"}),
    ("random", {"strategy.name": "random"}),
    ("reward", {"strategy.name": "reward"}),
    ("keras-tuner", {"strategy.name": "keras-tuner", "strategy.keras_tuner.oracle": "bayesian"}),
    ("ray", {"backend.name": "ray", "strategy.name": "nsga2", "strategy.population_size": 2}),
]


def test_every_strategy_is_covered() -> None:
    assert {name for name, _ in CASES} >= set(STRATEGIES)


def _search(info: dict[str, Any], runs: Path, overrides: dict[str, Any]) -> list:
    config = supernet_config(info, runs, **{"strategy.n_trials": N_TRIALS,
                                            **{k.replace(".", "__"): v for k, v in overrides.items()}})
    summary = run_search(config, progress="quiet")
    assert summary.n_done == N_TRIALS and not summary.problems, summary.problems
    return record.open_study("sn", runs_dir=runs).get_trials()


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=[case[0] for case in CASES])
def test_every_strategy_scores_with_inherited_weights(name: str, overrides: dict[str, Any], tiny_supernet: dict,
                                                      tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if name == "ray":
        request.getfixturevalue("ray_session")
    trials = _search(tiny_supernet, tmp_path / "runs", overrides)
    fingerprint = supernet_fingerprint(tiny_supernet["folder"])
    assert fingerprint == tiny_supernet["summary"]["fingerprint"]
    for trial in trials:
        trial_record = TrialRecord.from_trial(trial)
        assert trial.state == TrialState.COMPLETE and trial_record.status == TrialStatus.COMPLETE
        assert trial_record.accuracy_source == ACCURACY_INHERITED and trial_record.trained
        assert trial_record.inherited_from["fingerprint"] == fingerprint
        assert trial_record.inherited_from["folder"] == str(Path(tiny_supernet["folder"]).resolve())
        assert 0.0 <= trial_record.accuracy_int8 <= 1.0 and trial_record.latency_source == "measured"
        assert trial_record.metrics["training"]["accuracy_source"] == ACCURACY_INHERITED
        assert "train" not in trial_record.timings_s
        if trial_record.reused_from is None:  # a repeated architecture copies its results, nothing is run
            assert trial_record.timings_s["extract_weights"] > 0
        assert Path(trial_record.artifacts["tflite_int8"]).stat().st_size == trial_record.size_bytes
    if name == "ray":
        _assert_loaded_once_per_worker(trials)


def _assert_loaded_once_per_worker(trials: list) -> None:
    """Ray Tune reuses its worker process (reuse_actors): the supernet is loaded by its first trial only."""
    by_worker: dict[int, list[TrialRecord]] = collections.defaultdict(list)
    for trial in trials:
        trial_record = TrialRecord.from_trial(trial)
        assert trial_record.worker.pid != os.getpid() and trial_record.ray_trial_id
        by_worker[trial_record.worker.pid].append(trial_record)
    for records in by_worker.values():
        assert sum("load_supernet" in r.timings_s for r in records) == 1, [r.timings_s for r in records]
    # A worker ran several trials (not copies of an earlier one): it loaded the supernet once for them.
    assert max(sum(r.reused_from is None for r in records) for records in by_worker.values()) >= 2
