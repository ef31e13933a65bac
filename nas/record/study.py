"""The Optuna study is the record of a search: storage, creation, resume, and the trial schema.

Every trial keeps its architecture, metrics, latency statistics, device, step timings and artifact
paths as user attributes (keys below, documented in docs/interfaces.md "Study record"), so the study
alone is enough for ``nas trials``, ``nas pareto``, ``optuna-dashboard`` and the ``optuna`` CLI.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

logger = logging.getLogger(__name__)

# ---- trial user attributes (the "Study record" schema) ------------------------------------------
ATTR_ARCHITECTURE = "architecture"
ATTR_STATUS = "status"
ATTR_IS_REFERENCE = "is_reference"
ATTR_REUSED_FROM = "reused_from"
ATTR_RETRY_OF = "retry_of"
ATTR_WORKER = "worker"
ATTR_FAILURE_REASON = "failure_reason"

STATUS_COMPLETE = "complete"        # trained, int8 model evaluated
STATUS_INFEASIBLE = "infeasible"    # broke a latency/size constraint before training: not trained
STATUS_FAILED = "failed"            # the candidate failed (diverged, did not convert, crashed the profiler)
STATUS_INTERRUPTED = "interrupted"  # its process died (kill -9, crash); retried by the next run
STATUSES = (STATUS_COMPLETE, STATUS_INFEASIBLE, STATUS_FAILED, STATUS_INTERRUPTED)

# ---- study user attributes ----------------------------------------------------------------------
STUDY_ATTR_CONFIG = "config"
STUDY_ATTR_OBJECTIVES = "objectives"
STUDY_ATTR_VALUE_NAMES = "value_names"
STUDY_ATTR_STUDY_DIR = "study_dir"
STUDY_ATTR_STRATEGY = "strategy"
STUDY_ATTR_REFERENCE = "reference_baseline"


# Ray Tune's OptunaSearch keeps its proposals in "<study>:ray-proposer" next to the record.
PROPOSER_SUFFIX = ":ray-proposer"


class StudyError(RuntimeError):
    """The study cannot be opened or does not match the requested search."""


def storage_from_url(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from a URL.

    ``sqlite:///path.db``, ``postgresql://...`` and other SQLAlchemy URLs give an ``RDBStorage``;
    ``journal:///path.log`` (or a plain path ending in ``.log``/``.journal``) gives a
    ``JournalStorage`` over a file, safe for several processes on one machine (Optuna docs).
    """
    if url.startswith("journal:"):
        path = url[len("journal:"):]
        path = path[2:] if path.startswith("//") else path
        return _journal_storage(Path(path))
    if "://" not in url:
        if url.endswith((".log", ".journal")):
            return _journal_storage(Path(url))
        raise StudyError(
            f"storage {url!r} is not a storage URL; use sqlite:///path.db, journal:///path.log "
            "or postgresql://user@host/db"
        )
    if url.startswith("sqlite:///"):
        db_path = Path(url[len("sqlite:///"):])
        db_path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))


def absolute_storage_url(url: str) -> str:
    """The same storage with file paths made absolute (for processes with another working directory,
    such as Ray Tune workers, which run in their trial folders)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(url[len("sqlite:///"):]).resolve())
    if url.startswith("journal:"):
        path = url[len("journal:"):]
        path = path[2:] if path.startswith("//") else path
        return "journal://" + str(Path(path).resolve())
    if "://" not in url:
        return str(Path(url).resolve())
    return url


def _engine_kwargs(url: str) -> dict[str, Any]:
    # Several workers may write one SQLite file; wait for its lock instead of failing at once.
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def _journal_storage(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def default_storage_url(runs_dir: str | Path, study_name: str) -> str:
    """``sqlite:///<runs_dir>/<study>/study.db``: the storage ``nas search`` uses unless told otherwise."""
    return f"sqlite:///{(Path(runs_dir) / study_name / 'study.db').as_posix()}"


def open_study(
    study_name: str | None = None,
    storage: str | None = None,
    runs_dir: str | Path = "runs",
) -> optuna.Study:
    """Open an existing study for reading (``nas trials``, ``nas pareto``, ...).

    With no storage, the default SQLite file of ``study_name`` under ``runs_dir``; with a storage
    holding exactly one study, ``study_name`` may be omitted.
    """
    if storage is None:
        if study_name is None:
            raise StudyError("give a study name (--study) or a storage URL (--storage)")
        db = Path(runs_dir) / study_name / "study.db"
        if not db.is_file():
            raise StudyError(f"no study {study_name!r}: {db} does not exist (run `nas search --study.name {study_name}`)")
        storage = default_storage_url(runs_dir, study_name)
    backend = storage_from_url(storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
    if study_name is None:
        records = [n for n in names if not n.endswith(PROPOSER_SUFFIX)]
        if len(records) == 1:
            return optuna.load_study(study_name=records[0], storage=backend)
        if len(names) != 1:
            raise StudyError(f"storage {storage} holds {len(names)} studies ({', '.join(names) or 'none'}); choose one with --study")
        study_name = names[0]
    if study_name not in names:
        raise StudyError(f"storage {storage} has no study {study_name!r}; it holds: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=study_name, storage=backend)


def create_or_load_study(
    *,
    study_name: str,
    storage_url: str,
    directions: Sequence[str],
    value_names: Sequence[str],
    sampler: optuna.samplers.BaseSampler | None,
    study_attrs: Mapping[str, Any],
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists with the same objectives. Returns (study, created)."""
    storage = storage_from_url(storage_url)
    existing = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    created = study_name not in existing
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        load_if_exists=True,
    )
    if not created:
        old_names = study.user_attrs.get(STUDY_ATTR_VALUE_NAMES)
        old_directions = [d.name.lower() for d in study.directions]
        if old_directions != list(directions) or (old_names is not None and list(old_names) != list(value_names)):
            raise StudyError(
                f"study {study_name!r} in {storage_url} optimizes {old_names or old_directions}; this search "
                f"optimizes {list(value_names)} ({list(directions)}). Use another --study.name or the same "
                "objectives and strategy."
            )
    else:
        study.set_user_attr(STUDY_ATTR_VALUE_NAMES, list(value_names))
        for key, value in study_attrs.items():
            study.set_user_attr(key, to_jsonable(value))
    return study, created


# ---- trials --------------------------------------------------------------------------------------


def worker_identity() -> dict[str, Any]:
    """Who runs a trial: host, pid and the process start time (so a reused pid is not mistaken)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _process_start_ticks(os.getpid())}


def _process_start_ticks(pid: int) -> int | None:
    # Linux: field 22 of /proc/<pid>/stat is the start time in clock ticks since boot.
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[19])


def _worker_is_dead(worker: Mapping[str, Any] | None) -> bool | None:
    """True if the worker process is gone, False if alive, None if it ran on another host."""
    if not worker:
        return True  # killed between ask() and the first attribute write
    if worker.get("host") != socket.gethostname():
        return None
    pid = int(worker.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    started = worker.get("started")
    return started is not None and _process_start_ticks(pid) != started


def recover_interrupted_trials(study: optuna.Study, *, enqueue: bool = True) -> list[int]:
    """Mark trials left RUNNING by a dead process as FAIL and (``enqueue``) enqueue them again with
    the same params and reference flag, so the next run retries them first.

    Returns the numbers of the recovered trials. Trials running on another host are left alone.
    """
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        dead = _worker_is_dead(trial.user_attrs.get(ATTR_WORKER))
        if dead is None:
            logger.warning("trial %d is RUNNING on %s; leaving it to that host",
                           trial.number, trial.user_attrs[ATTR_WORKER].get("host"))
            continue
        if not dead:
            continue
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, ATTR_STATUS, STATUS_INTERRUPTED)
        storage.set_trial_user_attr(trial._trial_id, ATTR_FAILURE_REASON, "its process died while the trial was running")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if enqueue:
            carried = {k: trial.user_attrs[k] for k in (ATTR_IS_REFERENCE, "reference_name") if k in trial.user_attrs}
            carried[ATTR_RETRY_OF] = trial.number
            study.enqueue_trial(dict(trial.params), user_attrs=carried)
        logger.warning("trial %d was interrupted (its process died)%s", trial.number,
                       "; enqueued again" if enqueue else "")
        recovered.append(trial.number)
    return recovered


def is_done(trial: FrozenTrial) -> bool:
    """A trial that holds a result: complete, infeasible, or a recorded candidate failure."""
    if trial.state == TrialState.COMPLETE:
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(ATTR_STATUS) == STATUS_FAILED


def count_done(trials: Iterable[FrozenTrial]) -> int:
    return sum(1 for t in trials if is_done(t))


def find_previous(trials: Iterable[FrozenTrial], architecture: str, *, exclude: int | None = None,
                  proxy_epochs: int | None = None) -> FrozenTrial | None:
    """The first finished trial with the same architecture and training budget (its results are
    reused, not recomputed)."""
    for trial in trials:
        if trial.number == exclude or not is_done(trial):
            continue
        attrs = trial.user_attrs
        if (attrs.get(ATTR_ARCHITECTURE) == architecture and attrs.get(ATTR_REUSED_FROM) is None
                and attrs.get("proxy_epochs") == proxy_epochs):
            return trial
    return None


def has_reference(study: optuna.Study) -> bool:
    """Whether the reference trial was ever enqueued (in any state, waiting included)."""
    return any(t.user_attrs.get(ATTR_IS_REFERENCE) for t in study.get_trials(deepcopy=False))


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for user attributes (NumPy scalars and arrays, tuples, Paths, NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)
