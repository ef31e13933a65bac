"""Optuna storage URLs: the one place that turns a URL into a storage, makes it absolute, or picks the default.

``sqlite:///path.db``, ``postgresql://...`` and other SQLAlchemy URLs give an ``RDBStorage``;
``journal:///path.log`` (or a plain path ending in ``.log``/``.journal``) gives a ``JournalStorage``
over a file, safe for several processes on one machine (Optuna docs, "Storages"). SQLite and journal
files are *file storages*: one machine only (a Ray node with its own disk would write its own file).

PostgreSQL (a cluster's storage):

- a plain ``postgresql://user@host/db`` is rewritten to the installed driver's SQLAlchemy dialect
  (``postgresql+psycopg2`` or ``postgresql+psycopg``, both in the ``cluster`` extra); no driver is
  one :class:`StudyError` line;
- the password is never part of a URL we keep: every process reads it when it connects, from
  ``$NAS_STORAGE_PASSWORD`` or the file named by ``$NAS_STORAGE_PASSWORD_FILE`` (else libpq's own
  ``PGPASSWORD`` / ``~/.pgpass``), through a SQLAlchemy ``do_connect`` hook, so nothing that pickles
  or records the storage (Ray's tuner state, the study's config) holds it;
- Optuna's heartbeat is on (``heartbeat_interval`` / ``grace_period``): a trial whose process stops
  beating is stale, and any process can fail it (:mod:`nas.record.recovery`), also across hosts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import os
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from nas.record.errors import StudyError

logger = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"
JOURNAL_PREFIX = "journal:"
JOURNAL_SUFFIXES = (".log", ".journal")
# Several workers may write one SQLite file: each waits this long for its lock instead of failing at once.
SQLITE_LOCK_TIMEOUT_S = 60
PASSWORD_ENV = "NAS_STORAGE_PASSWORD"
PASSWORD_FILE_ENV = "NAS_STORAGE_PASSWORD_FILE"
# Optuna heartbeat of a database storage: each running trial beats every HEARTBEAT_INTERVAL_S; one
# silent for GRACE_PERIOD_S is stale (its host died) and is failed by whichever process looks next.
HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 120
_RDB_ARGS = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
# Our trials beat through nas.record.recovery.heartbeat, not only inside study.optimize.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
# SQLAlchemy dialects of PostgreSQL, in order of preference, and the module each needs.
POSTGRES_DRIVERS = (("postgresql+psycopg2", "psycopg2"), ("postgresql+psycopg", "psycopg"))
# SQLite files that passed check_sqlite_file, as (path, size, mtime): each version is checked once.
_CHECKED_FILES: set[tuple[str, int, int]] = set()


def default_storage_url(runs_dir: str | Path, study_name: str) -> str:
    """``sqlite:///<runs_dir>/<study>/study.db``: the storage ``nas search`` uses unless told otherwise."""
    return f"{SQLITE_PREFIX}{(Path(runs_dir) / study_name / 'study.db').as_posix()}"


def is_file_storage(url: str) -> bool:
    """SQLite or a journal file: storages that only the processes of one machine can share."""
    return url.startswith(("sqlite:", JOURNAL_PREFIX)) or "://" not in url


def storage_from_url(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from a URL (see the module docstring); a SQLite file's folder is created.

    A database server's storage (not SQLite) gets Optuna's heartbeat, with
    :func:`nas.record.recovery.stale_trial_failed` as its failed-trial callback.
    """
    from nas.record.recovery import stale_trial_failed

    if url.startswith(JOURNAL_PREFIX):
        return _journal_storage(_journal_path(url))
    if "://" not in url:
        if url.endswith(JOURNAL_SUFFIXES):
            return _journal_storage(Path(url))
        raise StudyError(
            f"storage {url!r} is not a storage URL; use sqlite:///path.db, journal:///path.log "
            "or postgresql://user@host/db"
        )
    if url.startswith(SQLITE_PREFIX):
        return _sqlite_storage(url, Path(url[len(SQLITE_PREFIX):]))
    # Optuna 4.9 renamed the callback argument; both name the same hook.
    callback_arg = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in _RDB_ARGS
                    else "failed_trial_callback")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for attempt in (1, 2):
                try:
                    return optuna.storages.RDBStorage(
                        driver_url(url), engine_kwargs=_engine_kwargs(url), heartbeat_interval=HEARTBEAT_INTERVAL_S,
                        grace_period=GRACE_PERIOD_S, **{callback_arg: stale_trial_failed})
                except sqlalchemy.exc.IntegrityError:
                    if attempt == 2:  # two processes created the tables of a new database at once: the
                        raise         # other one won, so the second attempt finds them
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StudyError(f"storage {redact_url(url)}: cannot connect: {reason}") from None


def _sqlite_storage(url: str, path: Path) -> optuna.storages.BaseStorage:
    """Optuna's RDBStorage over a SQLite file; a damaged file is named, a creation race is retried."""
    check_sqlite_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except sqlalchemy.exc.IntegrityError:
            # Two processes created the tables of a new file at once (a search and a reader, say):
            # the other one won, so a second attempt finds them. Not damage.
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    except sqlalchemy.exc.OperationalError as exc:
        if "locked" in str(exc):
            raise StudyError(f"study file {path} stayed locked by another process for "
                             f"{SQLITE_LOCK_TIMEOUT_S:g} s; nothing was written to it") from None
        raise damaged_file_error(path, exc) from None
    except sqlalchemy.exc.DatabaseError as exc:
        raise damaged_file_error(path, exc) from None


def check_sqlite_file(path: Path) -> None:
    """Raise :class:`StudyError` if the SQLite file at ``path`` exists and is damaged (truncated, overwritten).

    SQLite's ``PRAGMA quick_check`` (https://sqlite.org/pragma.html#pragma_quick_check) reads every
    page read-only, so a damaged study is named before Optuna or SQLAlchemy touch it; checked once
    per file version (size and modification time) in a process.
    """
    try:
        stat = path.stat()
    except OSError:
        return  # a new study: nothing to check
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if stat.st_size == 0 or key in _CHECKED_FILES:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                               timeout=SQLITE_LOCK_TIMEOUT_S)) as db:
            rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return  # a writer holds it; Optuna waits for the lock itself
        raise damaged_file_error(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise damaged_file_error(path, exc) from None
    if rows != [("ok",)]:
        raise damaged_file_error(path, "; ".join(str(row[0]) for row in rows[:3]))
    _CHECKED_FILES.add(key)


def damaged_file_error(path: Path, reason: Any) -> StudyError:
    """The one-line error of a damaged study file: which file, that it is damaged, that nothing was written."""
    text = str(getattr(reason, "orig", None) or reason).strip().splitlines()[0]
    return StudyError(f"study file {path} is damaged ({text}); nothing was written to it. "
                      "Restore it from a copy, or move it away to start a new study")


def driver_url(url: str) -> str:
    """``url`` with a plain ``postgresql://`` turned into the installed driver's dialect.

    SQLAlchemy 2 reads ``postgresql://`` as psycopg2; with only psycopg 3 installed that is an
    ImportError deep inside the engine. A URL that names its driver is kept as it is.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StudyError(f"storage {url!r} is not a valid database URL: {exc}") from None
    if parsed.drivername not in ("postgresql", "postgres"):
        return url
    for dialect, module in POSTGRES_DRIVERS:
        if importlib.util.find_spec(module) is not None:
            return parsed.set(drivername=dialect).render_as_string(hide_password=False)
    raise StudyError(f"storage {redact_url(url)}: no PostgreSQL driver is installed; "
                     "install one with `pip install 'edge-nas[cluster]'` (psycopg2-binary)")


def redact_url(url: str) -> str:
    """``url`` fit to print or store: a password in it is shown as ``***``."""
    if "://" not in url or url.startswith(JOURNAL_PREFIX):
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def url_has_password(url: str) -> bool:
    """Whether ``url`` holds a password (which must come from the environment or a file instead)."""
    if "://" not in url or url.startswith((JOURNAL_PREFIX, "sqlite:")):
        return False
    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False


def read_storage_password() -> str | None:
    """The database password: ``$NAS_STORAGE_PASSWORD``, else the file named by ``$NAS_STORAGE_PASSWORD_FILE``."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    path_text = os.environ.get(PASSWORD_FILE_ENV)
    if not path_text:
        return None
    return read_secret_file(Path(path_text), f"${PASSWORD_FILE_ENV}")


def read_secret_file(path: Path, setting: str) -> str:
    """The secret kept in the file at ``path`` (stripped); ``setting`` names where the path came from.

    Raises :class:`StudyError` naming the setting and the file when it cannot be read or is empty;
    the secret itself never enters a message.
    """
    path = Path(path).expanduser()
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise StudyError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    if not secret:
        raise StudyError(f"{setting}: {path} is empty")
    return secret


@sqlalchemy.event.listens_for(Engine, "do_connect")
def _insert_password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    # Read at connect time in the connecting process: the engine, its URL and whatever pickles it
    # (Ray's saved searcher) never hold the secret.
    if dialect.name == "postgresql" and not cparams.get("password"):
        password = read_storage_password()
        if password:
            cparams["password"] = password


def absolute_storage_url(url: str) -> str:
    """The same storage with file paths made absolute (for processes with another working directory,
    such as Ray Tune workers, which run in their trial folders)."""
    if url.startswith(SQLITE_PREFIX) and not url.startswith(SQLITE_PREFIX + "/"):
        return SQLITE_PREFIX + str(Path(url[len(SQLITE_PREFIX):]).resolve())
    if url.startswith(JOURNAL_PREFIX):
        return "journal://" + str(_journal_path(url).resolve())
    if "://" not in url:
        return str(Path(url).resolve())
    return url


def _journal_path(url: str) -> Path:
    path = url[len(JOURNAL_PREFIX):]
    return Path(path[2:] if path.startswith("//") else path)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}
    # A server closes idle connections; test each one before use rather than fail a trial.
    return {"pool_pre_ping": True}


def _journal_storage(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # json.JSONDecodeError is a ValueError
        raise damaged_file_error(path, f"{type(exc).__name__}: {exc}") from None


__all__ = [
    "GRACE_PERIOD_S",
    "HEARTBEAT_INTERVAL_S",
    "PASSWORD_ENV",
    "PASSWORD_FILE_ENV",
    "absolute_storage_url",
    "check_sqlite_file",
    "damaged_file_error",
    "default_storage_url",
    "driver_url",
    "is_file_storage",
    "read_storage_password",
    "redact_url",
    "storage_from_url",
    "url_has_password",
]
