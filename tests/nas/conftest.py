"""Shared fixtures of the nas tests.

``tiny_search_study`` runs ONE real tiny search per test session (digits at 16 px, one epoch, 4 trials,
local profiler with few runs; MobileNetV2 0.35 first) and every test that needs a finished study
reads it (copy it first with ``copy_study`` before writing to it). ``tiny_supernet`` (tests/nas/supernet_study.py)
trains one tiny supernet per session for the tests of ``evaluator: supernet``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.nas.supernet_study import tiny_supernet  # noqa: F401 (session fixture: one tiny trained supernet)

TINY_SEARCH_ARGS = [
    "--set", "search_space.resolutions=[16]",
    "--epochs", "1",
    "--profiler.runs", "5",
    "--profiler.warmup_runs", "1",
    "--n-trials", "4",
]


@pytest.fixture(scope="session")
def tiny_search_study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished real tiny search: ``{"runs_dir", "study", "storage", "exit_code"}``."""
    from nas.cli import main

    runs = tmp_path_factory.mktemp("tiny_search") / "runs"
    code = main(["search", "--study.runs_dir", str(runs), "--study", "tiny", "--quiet", *TINY_SEARCH_ARGS])
    return {"runs_dir": runs, "study": "tiny", "storage": f"sqlite:///{runs / 'tiny' / 'study.db'}",
            "exit_code": code}


def copy_study(info: dict, dest: Path) -> dict:
    """A private copy of a finished study folder (so a test can add trials to it)."""
    runs = dest / "runs"
    shutil.copytree(Path(info["runs_dir"]) / info["study"], runs / info["study"])
    return {**info, "runs_dir": runs, "storage": f"sqlite:///{runs / info['study'] / 'study.db'}"}
