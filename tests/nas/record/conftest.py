"""Fixtures of the record tests: the legacy study (a copy, so tests may write to it) and a fresh study."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

LEGACY_DB = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_study" / "study.db"


@pytest.fixture
def legacy_study(tmp_path) -> optuna.Study:
    """The study written by the previous main (copied: 3 complete trials, one left RUNNING)."""
    db = tmp_path / "legacy" / "study.db"
    db.parent.mkdir()
    shutil.copy(LEGACY_DB, db)
    return optuna.load_study(study_name="legacy", storage=f"sqlite:///{db}")


@pytest.fixture
def study(tmp_path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}",
                               directions=["maximize", "minimize"])
