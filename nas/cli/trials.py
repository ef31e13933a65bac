"""`nas trials`: the trials of a study as a table (pandas), or CSV / JSON for other tools."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nas.cli._study import open_study_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", default="demo", help="study name (default: demo)")
    parser.add_argument("--storage", default=None, help="Optuna storage URL; default sqlite:///<runs-dir>/<study>/study.db")
    parser.add_argument("--runs-dir", default="runs", type=Path, help="folder holding <study>/ (default: runs)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="PATH", help="write every column as CSV ('-' for stdout)")
    out.add_argument("--json", metavar="PATH",
                     help="write every trial with all its attributes as JSON ('-' for stdout)")
    parser.add_argument("--all", action="store_true", help="include interrupted and waiting trials in the table")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from nas.record.study import StudyError
    from nas.results.trials import trials_json, trials_table

    try:
        study = open_study_from_args(args)
    except StudyError as exc:
        print(f"nas trials: {exc}", file=sys.stderr)
        return 2
    if args.json:
        text = json.dumps(trials_json(study), indent=2)
        _write(args.json, text + "\n")
        return 0
    table = trials_table(study, full=bool(args.csv), include_unfinished=args.all or bool(args.csv))
    if args.csv:
        _write(args.csv, table.to_csv(index=False))
        return 0
    if table.empty:
        print(f"study {study.study_name}: no finished trials yet")
        return 0
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string(index=False))
    return 0


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)
