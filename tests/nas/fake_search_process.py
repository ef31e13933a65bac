"""A search with the fake evaluator in its own process, for the SIGKILL test:
``python -m tests.nas.fake_search_process RUNS_DIR N_TRIALS TRAIN_SECONDS``."""

from __future__ import annotations

import sys

from nas.config import load_config
from nas.strategies import run_search
from tests.nas.fakes import FakeEvaluator


def fake_config(runs_dir: str, n_trials: int):
    return load_config(overrides={"study.runs_dir": runs_dir, "study.name": "killed", "strategy.n_trials": n_trials})


if __name__ == "__main__":
    runs, n_trials, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    run_search(fake_config(runs, n_trials), evaluator=FakeEvaluator(train_seconds=seconds), progress="quiet")
