"""nas.record.recovery: worker identity, mark_interrupted (the one place), recovery of dead workers' trials."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from nas.record import TrialRecord, TrialStatus, WorkerIdentity, recovery
from nas.record.recovery import mark_interrupted, recover_interrupted_trials, worker_identity, worker_is_dead


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _running(study, worker: WorkerIdentity | None, **fields) -> optuna.trial.FrozenTrial:
    record = TrialRecord(worker=worker, **fields)
    template = optuna.trial.create_trial(
        state=TrialState.RUNNING, params={"width": 0.5},
        distributions={"width": optuna.distributions.CategoricalDistribution([0.5, 1.0])},
        user_attrs={k: v for k, v in record.to_user_attrs().items() if v not in (None, False, [], {})})
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    return study._storage.get_trial(trial_id)


def test_worker_identity_is_this_process():
    me = worker_identity()
    assert me.host == socket.gethostname() and me.pid == os.getpid()
    assert me.to_dict() == {"host": me.host, "pid": me.pid, "started": me.started}  # the stored shape
    assert worker_is_dead(me) is False
    assert worker_is_dead(None) is True
    assert worker_is_dead(WorkerIdentity(host=me.host, pid=_dead_pid())) is True
    assert worker_is_dead(WorkerIdentity(host=me.host, pid=-1)) is True
    assert worker_is_dead(WorkerIdentity(host="another-host", pid=1)) is None


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start time is read from /proc")
def test_a_reused_pid_is_not_mistaken():
    me = worker_identity()
    assert worker_is_dead(WorkerIdentity(host=me.host, pid=me.pid, started=(me.started or 0) + 1)) is True


@pytest.mark.parametrize("form", ["frozen", "number"])
def test_mark_interrupted_a_stored_trial(study, form):
    frozen = _running(study, worker_identity())
    mark_interrupted(study, frozen if form == "frozen" else frozen.number, "its Ray worker died")
    after = study.get_trials()[frozen.number]
    record = TrialRecord.from_trial(after)
    assert after.state == TrialState.FAIL
    assert record.status == TrialStatus.INTERRUPTED and record.failure_reason == "its Ray worker died"
    assert after.user_attrs["status"] == "interrupted"  # the stored spelling studies have always had


def test_mark_interrupted_a_live_trial_tells_the_study(study):
    trial = study.ask()
    mark_interrupted(study, trial, "KeyboardInterrupt: ")
    after = study.get_trials()[trial.number]
    assert after.state == TrialState.FAIL and TrialRecord.from_trial(after).status == TrialStatus.INTERRUPTED
    mark_interrupted(study, trial, "again")  # finished: Optuna allows no change, the record stays
    assert TrialRecord.from_trial(study.get_trials()[trial.number]).failure_reason == "KeyboardInterrupt: "
    done = study.ask()
    study.tell(done, [0.5, 1.0])
    mark_interrupted(study, done.number, "late")
    assert TrialRecord.from_trial(study.get_trials()[done.number]).status is None


def test_mark_interrupted_without_finishing(study):
    trial = study.ask()
    mark_interrupted(study, trial, "stopped", finish=False)
    assert study.get_trials()[trial.number].state == TrialState.RUNNING


def test_recovery_fails_and_enqueues_dead_workers_trials(study):
    me = worker_identity()
    dead = _running(study, WorkerIdentity(host=me.host, pid=_dead_pid()), is_reference=True,
                    reference_name="mobilenet_v2_0.35")
    alive = _running(study, me)
    elsewhere = _running(study, WorkerIdentity(host="another-host", pid=1))
    never_started = _running(study, None)
    assert recover_interrupted_trials(study) == [dead.number, never_started.number]
    trials = study.get_trials()
    assert [trials[t.number].state for t in (dead, alive, elsewhere, never_started)] == [
        TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING, TrialState.FAIL]
    assert TrialRecord.from_trial(trials[dead.number]).failure_reason == recovery.DEAD_WORKER_REASON
    retries = [TrialRecord.from_trial(t) for t in trials if t.state == TrialState.WAITING]
    assert [(r.retry_of, r.is_reference, r.reference_name) for r in retries] == [
        (dead.number, True, "mobilenet_v2_0.35"), (never_started.number, False, None)]
    assert all(t.system_attrs["fixed_params"] == {"width": 0.5} for t in trials if t.state == TrialState.WAITING)


def test_recovery_without_enqueue(study):
    dead = _running(study, WorkerIdentity(host=socket.gethostname(), pid=_dead_pid()))
    assert recover_interrupted_trials(study, enqueue=False) == [dead.number]
    assert not [t for t in study.get_trials() if t.state == TrialState.WAITING]


@pytest.mark.skip_ok_in_ci("the legacy study was recorded on another host; no component is missing")
def test_the_legacy_study_running_trial_is_recovered(legacy_study):
    """The previous main left trial 3 RUNNING (its process is long gone)."""
    running = legacy_study.get_trials()[3]
    worker = TrialRecord.from_trial(running).worker
    if worker_is_dead(worker) is None:
        pytest.skip("recorded on another host, where it may still run")
    assert recover_interrupted_trials(legacy_study) == [3]
    assert TrialRecord.from_trial(legacy_study.get_trials()[3]).status == TrialStatus.INTERRUPTED
