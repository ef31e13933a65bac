"""Interrupted trials: who runs a trial, marking one interrupted, and recovering those a dead process left.

A trial records its worker (host, pid, process start time) before anything else. A later run finds
trials left RUNNING by a process that no longer exists (``kill -9``, a crash, a lost Ray worker),
marks them interrupted and enqueues them again with the same params, so they are retried first.
:func:`mark_interrupted` is the one place that marks a trial interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.record.trial_record import TrialRecord, TrialStatus, WorkerIdentity

logger = logging.getLogger(__name__)

DEAD_WORKER_REASON = "its process died while the trial was running"
# What a retry carries over from the interrupted trial (besides ``retry_of``).
RETRY_CARRIES = ("is_reference", "reference_name")


def worker_identity() -> WorkerIdentity:
    """This process as a trial's worker: host, pid and process start time (a reused pid is not mistaken)."""
    pid = os.getpid()
    return WorkerIdentity(host=socket.gethostname(), pid=pid, started=_process_start_ticks(pid))


def _process_start_ticks(pid: int) -> int | None:
    # Linux: field 22 of /proc/<pid>/stat is the start time in clock ticks since boot (proc(5)).
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[19])


def worker_is_dead(worker: WorkerIdentity | None) -> bool | None:
    """True if the worker process is gone, False if alive, None if it ran on another host."""
    if worker is None:
        return True  # killed between ask() and the first attribute write
    if worker.host != socket.gethostname():
        return None
    if worker.pid <= 0:
        return True  # no usable pid recorded (os.kill(-1, ...) would address every process)
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by another user
    return worker.started is not None and _process_start_ticks(worker.pid) != worker.started


def mark_interrupted(study: optuna.Study, trial: optuna.Trial | FrozenTrial | int, reason: str, *,
                     finish: bool = True) -> None:
    """Record that the RUNNING ``trial`` was interrupted: status ``interrupted``, ``failure_reason`` = ``reason``.

    ``trial`` is a live ``optuna.Trial``, a ``FrozenTrial`` or a trial number. With ``finish`` (the
    default) the trial also ends as FAIL: a live trial through ``study.tell`` (the sampler hears of
    it), any other directly in the storage (its process is gone). Pass ``finish=False`` inside
    ``study.optimize``, whose runner fails the trial itself. A trial already finished keeps its record
    (Optuna allows no change to it).
    """
    storage = study._storage
    if isinstance(trial, int):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, trial)
    else:
        trial_id = trial._trial_id
    stored = storage.get_trial(trial_id)
    if stored.state.is_finished():
        logger.info("trial %d already finished (%s); not marked interrupted (%s)", stored.number,
                    stored.state.name, reason)
        return
    for key, value in _fields_as_user_attrs(status=TrialStatus.INTERRUPTED, failure_reason=reason).items():
        storage.set_trial_user_attr(trial_id, key, value)
    if not finish:
        return
    if isinstance(trial, optuna.Trial):
        study.tell(trial, state=TrialState.FAIL)
    else:
        storage.set_trial_state_values(trial_id, TrialState.FAIL)


def recover_interrupted_trials(study: optuna.Study, *, enqueue: bool = True) -> list[int]:
    """Mark trials left RUNNING by a dead process interrupted (and FAIL) and, with ``enqueue``, enqueue
    them again with the same params and reference flag, so the next run retries them first.

    Returns the numbers of the recovered trials. Trials running on another host are left alone.
    """
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = TrialRecord.from_trial(trial).worker
        dead = worker_is_dead(worker)
        if dead is None:
            logger.warning("trial %d is RUNNING on %s; leaving it to that host", trial.number, worker.host)
            continue
        if not dead:
            continue
        mark_interrupted(study, trial, DEAD_WORKER_REASON)
        if enqueue:
            carried = {k: v for k, v in trial.user_attrs.items() if k in RETRY_CARRIES}
            carried.update(_fields_as_user_attrs(retry_of=trial.number))
            study.enqueue_trial(dict(trial.params), user_attrs=carried)
        logger.warning("trial %d was interrupted (its process died)%s", trial.number,
                       "; enqueued again" if enqueue else "")
        recovered.append(trial.number)
    return recovered


def _fields_as_user_attrs(**fields: Any) -> dict[str, Any]:
    """The user attributes of just these :class:`TrialRecord` fields."""
    attrs = TrialRecord(**fields).to_user_attrs()
    return {name: attrs[name] for name in fields}


__all__ = ["mark_interrupted", "recover_interrupted_trials", "worker_identity", "worker_is_dead"]
