"""A search killed with SIGKILL mid-trial and resumed loses and repeats nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from optuna.trial import TrialState

from nas.record import study as record
from nas.strategies import run_search
from tests.nas.fake_search_process import fake_config
from tests.nas.fakes import FakeEvaluator

ROOT = Path(__file__).resolve().parents[3]


def _wait_for_running_trial(runs: Path, pid: int, *, min_finished: int, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            study = record.open_study("killed", runs_dir=runs)
        except record.StudyError:
            time.sleep(0.2)
            continue
        trials = study.get_trials()
        running = [t for t in trials if t.state == TrialState.RUNNING
                   and (t.user_attrs.get("worker") or {}).get("pid") == pid]
        if running and record.count_done(trials) >= min_finished:
            return trials, running[0]
        time.sleep(0.1)
    raise AssertionError("the search never had a running trial after the first ones finished")


def test_sigkill_mid_trial_then_resume(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The child's output goes to a file: an unread pipe would block it once its buffer fills.
    log_path = tmp_path / "search.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.nas.fake_search_process", str(runs), "5", "1.0"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        trials, running = _wait_for_running_trial(runs, process.pid, min_finished=2)
        os.kill(process.pid, signal.SIGKILL)
    except AssertionError as exc:
        process.kill()
        raise AssertionError(f"{exc}; the search process wrote:\n{log_path.read_text()[-3000:]}") from None
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    finished_before = {t.number: (t.values, t.user_attrs["architecture"])
                       for t in record.open_study("killed", runs_dir=runs).trials if record.is_done(t)}
    assert len(finished_before) >= 2 and running.number not in finished_before

    evaluator = FakeEvaluator()
    summary = run_search(fake_config(str(runs), 5), evaluator=evaluator, progress="quiet")  # the same command again

    trials = record.open_study("killed", runs_dir=runs).get_trials()
    assert summary.recovered_trials == [running.number]
    killed = trials[running.number]
    assert killed.state == TrialState.FAIL and killed.user_attrs["status"] == "interrupted"
    retries = [t for t in trials if t.user_attrs.get("retry_of") == running.number]
    assert len(retries) == 1 and retries[0].params == running.params and record.is_done(retries[0])
    # nothing lost: every finished trial is intact; nothing repeated: none of them was evaluated again
    assert {n: (trials[n].values, trials[n].user_attrs["architecture"]) for n in finished_before} == finished_before
    assert not {arch for _, arch in finished_before.values()} & set(evaluator.cost_calls)
    assert record.count_done(trials) == 5
    fresh = [t.user_attrs["architecture"] for t in trials if record.is_done(t) and t.user_attrs["reused_from"] is None]
    assert len(fresh) == len(set(fresh))
    assert sum(bool(t.user_attrs.get("is_reference")) for t in trials if record.is_done(t)) == 1
