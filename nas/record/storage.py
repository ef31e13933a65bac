"""Optuna storage URLs: the one place that turns a URL into a storage, makes it absolute, or picks the default.

``sqlite:///path.db``, ``postgresql://...`` and other SQLAlchemy URLs give an ``RDBStorage``;
``journal:///path.log`` (or a plain path ending in ``.log``/``.journal``) gives a ``JournalStorage``
over a file, safe for several processes on one machine (Optuna docs, "Storages").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from nas.record.errors import StudyError

SQLITE_PREFIX = "sqlite:///"
JOURNAL_PREFIX = "journal:"
JOURNAL_SUFFIXES = (".log", ".journal")
# Several workers may write one SQLite file: each waits this long for its lock instead of failing at once.
SQLITE_LOCK_TIMEOUT_S = 60


def default_storage_url(runs_dir: str | Path, study_name: str) -> str:
    """``sqlite:///<runs_dir>/<study>/study.db``: the storage ``nas search`` uses unless told otherwise."""
    return f"{SQLITE_PREFIX}{(Path(runs_dir) / study_name / 'study.db').as_posix()}"


def storage_from_url(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from a URL (see the module docstring); a SQLite file's folder is created."""
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
        Path(url[len(SQLITE_PREFIX):]).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))


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
    return {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}} if url.startswith("sqlite") else {}


def _journal_storage(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


__all__ = ["absolute_storage_url", "default_storage_url", "storage_from_url"]
