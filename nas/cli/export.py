"""`nas export`: pick a model of the study, retrain it longer, write a verified int8 export folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nas.cli._output import print_export_summary
from nas.cli._study import add_study_arguments, open_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    pick = parser.add_argument_group("which model (default: the knee of the Pareto front)")
    pick.add_argument("--trial", type=int, default=None, help="export this trial number")
    pick.add_argument("--min-accuracy", type=float, default=None, metavar="FRACTION",
                      help="the fastest front model with int8 accuracy >= this (e.g. 0.9)")
    pick.add_argument("--max-latency-ms", type=float, default=None,
                      help="the most accurate front model with latency p50 <= this")
    pick.add_argument("--max-size-kib", "--max-size-kb", dest="max_size_kib", type=float, default=None,
                      metavar="KIB", help="the most accurate front model with an int8 file <= this many KiB "
                      "(1024 bytes; --max-size-kb is the earlier name)")
    budget = parser.add_argument_group(
        "retraining (default: the study's training with 3x its epochs, at least 5, on the full training split)")
    budget.add_argument("--epochs", type=int, default=None, help="epochs of the export training")
    budget.add_argument("--lr", type=float, default=None, help="peak learning rate")
    budget.add_argument("--batch-size", type=int, default=None)
    budget.add_argument("--qat", action="store_true", help="quantization-aware fine-tune before int8 conversion")
    budget.add_argument("--qat-epochs", type=int, default=1)
    budget.add_argument("--weights", choices=("finetune", "retrain"), default=None,
                        help="a trial scored with weights inherited from a supernet (evaluator: supernet): fine-tune "
                        "those weights (peak learning rate a tenth of the study's unless --lr) or retrain from "
                        "scratch (the default); the model card gives both accuracies")
    parser.add_argument("--out", type=Path, default=None,
                        help="export folder (default: runs/<study>/export/trial_<number>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    parser.add_argument("--no-profile", action="store_true", help="do not measure the exported model's latency")
    parser.add_argument("--json", action="store_true", help="print the export summary as JSON")


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError
    from nas.results.export.exporter import ExportError, ExportSettings, export_model
    from nas.results.references import comparison_lines
    from nas.results.selection import SelectionError, SelectionRequest, select_model

    try:
        results = open_results(args)
        request = SelectionRequest(
            trial_number=args.trial,
            min_accuracy=args.min_accuracy,
            max_latency_ms=args.max_latency_ms,
            max_size_bytes=None if args.max_size_kib is None else int(args.max_size_kib * 1024),
        )
        selection = select_model(results.points, request, results.objectives)
        config = results.search_config
        out = args.out or results.folder / "export" / f"trial_{selection.point.trial_number}"
        settings = ExportSettings(out_dir=out, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                  qat=args.qat, qat_epochs=args.qat_epochs, profile=not args.no_profile,
                                  overwrite=args.overwrite, weights=args.weights)
    except (StudyError, SelectionError, ValueError) as exc:
        print(f"nas export: {exc}", file=sys.stderr)
        return 2
    print(f"exporting {selection.reason}")
    try:
        summary = export_model(selection=selection, study_name=results.name, config=config, settings=settings,
                               comparison_lines=comparison_lines(selection.point, results))
    except (ExportError, ValueError, RuntimeError) as exc:
        print(f"nas export: failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print_export_summary(summary)
    return 0
