"""Interrupted trials: who runs a trial, marking one interrupted, and recovering those a dead process left.

A trial records its worker (host, pid, process start time, Ray node id) before anything else. A
later run finds trials left RUNNING by a process that no longer exists (``kill -9``, a crash, a lost
Ray worker), marks them interrupted and enqueues them again with the same params, so they are
retried first. :func:`mark_interrupted` is the one place that marks a trial interrupted.

A pid says nothing about another host: there Optuna's heartbeat decides (database storages,
:mod:`nas.record.storage`). A running trial beats (:func:`heartbeat`); one whose beats stopped for the
grace period is stale, and any process that recovers finds it, as Optuna's ``fail_stale_trials``
does; :func:`stale_trial_failed` is the failed-trial callback when Optuna itself fails one first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.record.trial_record import TrialRecord, TrialStatus, WorkerIdentity

logger = logging.getLogger(__name__)

DEAD_WORKER_REASON = "its process died while the trial was running"
STALE_HEARTBEAT_REASON = "its host {host} stopped beating (Optuna heartbeat) while the trial was running"
# What a retry carries over from the interrupted trial (besides ``retry_of``).
RETRY_CARRIES = ("is_reference", "reference_name")


def worker_identity() -> WorkerIdentity:
    """This process as a trial's worker: host, pid, process start time (a reused pid is not mistaken)
    and, inside a Ray worker, the Ray node id."""
    pid = os.getpid()
    return WorkerIdentity(host=socket.gethostname(), pid=pid, started=_process_start_ticks(pid),
                          ray_node_id=_ray_node_id())


def _ray_node_id() -> str | None:
    if "ray" not in sys.modules:  # never import Ray just to ask
        return None
    ray = sys.modules["ray"]
    if not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()


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
    stale = set(_stale_trial_ids(study))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = TrialRecord.from_trial(trial).worker
        dead, reason = worker_is_dead(worker), DEAD_WORKER_REASON
        if dead is None:
            if trial._trial_id not in stale:
                logger.warning("trial %d is RUNNING on %s; leaving it to that host", trial.number, worker.host)
                continue
            dead, reason = True, STALE_HEARTBEAT_REASON.format(host=worker.host)
        if not dead:
            continue
        mark_interrupted(study, trial, reason)
        if enqueue:
            _enqueue_retry(study, trial)
        logger.warning("trial %d was interrupted (%s)%s", trial.number, reason, "; enqueued again" if enqueue else "")
        recovered.append(trial.number)
    return recovered


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose heartbeat went stale interrupted (and FAIL); returns their numbers.

    Safe in any process while others run trials (a Ray worker before its trial): unlike the pid check
    of :func:`recover_interrupted_trials` it never touches a trial that is still starting.
    """
    stale = set(_stale_trial_ids(study))
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial._trial_id in stale:
            worker = TrialRecord.from_trial(trial).worker
            reason = STALE_HEARTBEAT_REASON.format(host=worker.host if worker else "unknown")
            mark_interrupted(study, trial, reason)
            logger.warning("trial %d was interrupted (%s)", trial.number, reason)
            recovered.append(trial.number)
    return recovered


def _enqueue_retry(study: optuna.Study, trial: FrozenTrial) -> None:
    carried = {k: v for k, v in trial.user_attrs.items() if k in RETRY_CARRIES}
    carried.update(_fields_as_user_attrs(retry_of=trial.number))
    study.enqueue_trial(dict(trial.params), user_attrs=carried)


def _stale_trial_ids(study: optuna.Study) -> list[int]:
    """Ids of RUNNING trials whose heartbeat stopped for longer than the grace period (Optuna's
    ``fail_stale_trials`` asks the storage the same)."""
    if _heartbeat_interval_s(study) is None:
        return []
    return study._storage._get_stale_trial_ids(study._study_id)


def _heartbeat_interval_s(study: optuna.Study) -> int | None:
    # Storages with a heartbeat implement Optuna's BaseHeartbeat (RDBStorage, JournalStorage).
    interval = getattr(study._storage, "get_heartbeat_interval", None)
    return interval() if interval is not None else None


def stale_trial_failed(study: optuna.Study, trial: FrozenTrial) -> None:
    """Optuna's failed-trial callback: a process (ours or another tool's) failed a stale trial.

    Optuna has already set it FAIL, so its record cannot change; the same params are enqueued again
    with ``retry_of`` (as Optuna's ``RetryFailedTrialCallback`` does), so the search retries it.
    """
    logger.warning("trial %d was failed by Optuna's heartbeat check (its host stopped beating); enqueued again",
                   trial.number)
    _enqueue_retry(study, trial)


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial | FrozenTrial) -> Iterator[None]:
    """Beat for ``trial`` while the block runs (database storages with a heartbeat; else nothing).

    ``study.optimize`` does this itself; the trials we run by ask/tell or for Ray Tune need it here.
    """
    storage, interval = study._storage, _heartbeat_interval_s(study)
    if interval is None:
        yield
        return
    stop = threading.Event()
    trial_id = trial._trial_id

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fields_as_user_attrs(**fields: Any) -> dict[str, Any]:
    """The user attributes of just these :class:`TrialRecord` fields."""
    attrs = TrialRecord(**fields).to_user_attrs()
    return {name: attrs[name] for name in fields}


__all__ = [
    "heartbeat",
    "mark_interrupted",
    "recover_interrupted_trials",
    "recover_stale_trials",
    "stale_trial_failed",
    "worker_identity",
    "worker_is_dead",
]
