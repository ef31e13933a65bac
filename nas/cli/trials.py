"""`nas trials`: the trials of a study as a table (pandas), or CSV / JSON for other tools."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nas.record import study as record
# Column -> how to read it from a FrozenTrial; the table `nas trials` prints.
_SHORT_COLUMNS = ["trial", "state", "status", "reference", "accuracy_int8", "latency_ms_p50", "size_kib",
                  "params", "macs", "reused_from", "violations", "duration_s", "architecture"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", default="demo", help="study name (default: demo)")
    parser.add_argument("--storage", default=None, help="Optuna storage URL; default sqlite:///<runs-dir>/<study>/study.db")
    parser.add_argument("--runs-dir", default="runs", type=Path, help="folder holding <study>/ (default: runs)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="PATH", help="write every column as CSV ('-' for stdout)")
    out.add_argument("--json", metavar="PATH", help="write every trial with all its attributes as JSON ('-' for stdout)")
    parser.add_argument("--all", action="store_true", help="include interrupted and waiting trials in the table")


def trials_table(study, *, full: bool = False, include_unfinished: bool = False):
    """A pandas DataFrame with one row per trial; ``full`` adds every metric, timing and path."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        if not include_unfinished and not record.is_done(trial):
            continue
        rows.append(_row(trial, full=full))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=_SHORT_COLUMNS)
    for column in ("params", "macs", "reused_from", "size_bytes", "retry_of"):
        if column in frame:  # integers with gaps: show <NA>, not 1.0e+06 / NaN
            frame[column] = pd.array([None if v is None or v != v else int(v) for v in frame[column]],
                                     dtype="Int64")
    return frame


def _row(trial, *, full: bool) -> dict[str, Any]:
    a = trial.user_attrs
    size = a.get("size_bytes")
    timings = a.get("timings_s") or {}
    row: dict[str, Any] = {
        "trial": trial.number,
        "state": trial.state.name,
        "status": a.get(record.ATTR_STATUS),
        "reference": a.get("reference_name") if a.get(record.ATTR_IS_REFERENCE) else "",
        "accuracy_int8": a.get("accuracy_int8"),
        "latency_ms_p50": a.get("latency_ms_p50"),
        "size_kib": None if size is None else round(size / 1024, 1),
        "params": a.get("params"),
        "macs": a.get("macs"),
        "reused_from": a.get(record.ATTR_REUSED_FROM),
        "violations": ",".join(a.get("constraint_violations") or []),
        "duration_s": None if timings.get("total") is None else round(timings["total"], 1),
        "architecture": a.get(record.ATTR_ARCHITECTURE),
    }
    if full:
        row["size_bytes"] = size
        row["failure_reason"] = a.get(record.ATTR_FAILURE_REASON)
        row["retry_of"] = a.get(record.ATTR_RETRY_OF)
        row["mnasnet_reward"] = a.get("mnasnet_reward")
        row["values"] = trial.values
        for key, value in (a.get("latency_ms") or {}).items():
            row[f"latency_ms_{key}"] = value
        for key, value in timings.items():
            row[f"time_s_{key}"] = value
        for key, value in (a.get("metrics") or {}).items():
            if not isinstance(value, (list, dict)):
                row[f"metric_{key}"] = value
        for key, value in (a.get("artifacts") or {}).items():
            row[f"artifact_{key}"] = value
    return row


def trials_json(study) -> list[dict[str, Any]]:
    """Every trial with its state, params, values, constraints and all user attributes."""
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "values": t.values,
            "params": t.params,
            "constraints": t.constraints,
            "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
            "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
            "user_attrs": t.user_attrs,
        }
        for t in study.get_trials(deepcopy=False)
    ]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    try:
        study = record.open_study(args.study, args.storage, args.runs_dir)
    except record.StudyError as exc:
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
