"""`nas export`: pick a model of the study, retrain it longer, write a verified int8 export folder."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.cli._study import add_study_arguments

    add_study_arguments(parser)
    pick = parser.add_argument_group("which model (default: the knee of the Pareto front)")
    pick.add_argument("--trial", type=int, default=None, help="export this trial number")
    pick.add_argument("--min-accuracy", type=float, default=None, metavar="FRACTION",
                      help="the fastest front model with int8 accuracy >= this (e.g. 0.9)")
    pick.add_argument("--max-latency-ms", type=float, default=None,
                      help="the most accurate front model with latency p50 <= this")
    pick.add_argument("--max-size-kb", type=float, default=None,
                      help="the most accurate front model with an int8 file <= this many KB")
    budget = parser.add_argument_group("retraining (default: the study's training with 3x its epochs, at least 5, on the full training split)")
    budget.add_argument("--epochs", type=int, default=None, help="epochs of the export training")
    budget.add_argument("--lr", type=float, default=None, help="peak learning rate")
    budget.add_argument("--batch-size", type=int, default=None)
    budget.add_argument("--qat", action="store_true", help="quantization-aware fine-tune before int8 conversion")
    budget.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="export folder (default: runs/<study>/export/trial_<number>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    parser.add_argument("--no-profile", action="store_true", help="do not measure the exported model's latency")
    parser.add_argument("--json", action="store_true", help="print the export summary as JSON")


def comparison_lines(chosen, study_dir: Path, points, objectives) -> list[str]:
    """The chosen model against the study's MobileNetV2 points (its reference trial and any cached
    `nas compare` evaluations), at the search's proxy budget."""
    from nas.results import references as baselines_eval
    from nas.results.compare import compare, summary_lines

    references = baselines_eval.load_cached(study_dir)
    if not references:
        references = [p for p in points if p.is_mobilenet_v2 and p.has_metrics(objectives)]
    references = [r if r.trial_number is None else dataclasses.replace(r, label=f"{r.baseline} (trial {r.trial_number})")
                  for r in references if r.architecture != chosen.architecture]
    if not references:
        return []
    return summary_lines(compare([chosen], references, objectives))


def run(args: argparse.Namespace) -> int:
    from nas.results.export.exporter import ExportError, ExportSettings, export_model
    from nas.results.selection import SelectionError, SelectionRequest, select_model
    from nas.record.study import StudyError
    from nas.cli._study import open_study_from_args, study_dir
    from nas.record.points import study_objectives, study_points

    try:
        study = open_study_from_args(args)
        objectives = study_objectives(study)
        points = study_points(study)
        request = SelectionRequest(
            trial_number=args.trial,
            min_accuracy=args.min_accuracy,
            max_latency_ms=args.max_latency_ms,
            max_size_bytes=None if args.max_size_kb is None else int(args.max_size_kb * 1024),
        )
        selection = select_model(points, request, objectives)
        config = study.user_attrs.get("config")
        if not config:
            raise StudyError(f"study {study.study_name!r} has no stored search config; was it made by `nas search`?")
        folder = study_dir(study, args)
        out = args.out or folder / "export" / f"trial_{selection.point.trial_number}"
        settings = ExportSettings(out_dir=out, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                  qat=args.qat, qat_epochs=args.qat_epochs, profile=not args.no_profile,
                                  overwrite=args.overwrite)
    except (StudyError, SelectionError, ValueError) as exc:
        print(f"nas export: {exc}", file=sys.stderr)
        return 2
    print(f"exporting {selection.reason}")
    try:
        summary = export_model(
            selection=selection, study_name=study.study_name, config=config, settings=settings,
            comparison_lines=comparison_lines(selection.point, folder, points, objectives),
        )
    except (ExportError, ValueError, RuntimeError) as exc:
        print(f"nas export: failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print_summary(summary)
    return 0


def print_summary(summary: dict[str, Any], *, file=None) -> None:
    file = file or sys.stdout
    test = summary["accuracy_int8_test"]
    latency = summary["latency_ms_p50"]
    print(f"export verified: {summary['out_dir']}", file=file)
    print(f"  int8 accuracy through LiteRT (re-loaded file): val {100 * summary['accuracy_int8_val']:.2f} %"
          + ("" if test is None else f", test {100 * test:.2f} %"), file=file)
    print(f"  latency p50: {'-' if latency is None else f'{latency:.3f} ms'} ({summary['latency_note']}); "
          f"size {summary['size_bytes'] / 1024:.1f} KB; {summary['params']:,} params", file=file)
    print(f"  files: {', '.join(summary['files'])}", file=file)
