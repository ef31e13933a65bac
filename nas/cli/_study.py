"""The study arguments shared by the results commands (``--study``, ``--storage``, ``--runs-dir``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nas.record import points
from nas.results.study import StudyResults


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """``--study`` / ``--storage`` / ``--runs-dir``, shared by the results commands."""
    parser.add_argument("--study", default="demo", help="study name (default: demo, the `nas search` default)")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL; default sqlite:///<runs-dir>/<study>/study.db")
    parser.add_argument("--runs-dir", default="runs", type=Path, help="folder holding runs/<study>/ (default: runs)")


def open_study_from_args(args: argparse.Namespace) -> Any:
    from nas.record.study import open_study

    return open_study(args.study, args.storage, args.runs_dir)


def study_dir(study: Any, args: argparse.Namespace | None = None) -> Path:
    """The study's artifact folder: under ``--runs-dir`` when opened from its default file."""
    if args is not None and getattr(args, "storage", None) is None:
        return points.study_dir(study, runs_dir=args.runs_dir)
    return points.study_dir(study)


def open_results(args: argparse.Namespace) -> StudyResults:
    """The study of ``--study`` / ``--storage`` / ``--runs-dir`` read for a results command
    (raises ``StudyError`` or ``ValueError``)."""
    study = open_study_from_args(args)
    runs_dir = args.runs_dir if getattr(args, "storage", None) is None else None
    return StudyResults.read(study, runs_dir=runs_dir)
