"""`nas compare`: the study's front against MobileNetV2 (or another baseline) evaluated the same way."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.cli._study import add_study_arguments

    add_study_arguments(parser)
    parser.add_argument("--baseline", action="append", default=None, metavar="NAME",
                        help="registry baseline to compare against (repeatable), e.g. efficientnet_b0; "
                        "default: the MobileNetV2 width grid")
    parser.add_argument("--widths", default=None, metavar="W,W,...",
                        help="MobileNetV2 widths of the grid (default: 0.35,0.5,0.75,1.0)")
    parser.add_argument("--resolutions", default=None, metavar="PX,PX,...",
                        help="input resolutions (default: those of the discovered front models)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _int_list(text: str | None, flag: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 8:
        raise ValueError(f"{flag}: expected pixel sizes >= 8, got {text!r}")
    return values


def front_resolutions(front) -> list[int]:
    from search_spaces.architecture import Architecture

    return sorted({Architecture.from_string(p.architecture).resolution for p in front})


def run_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate (or load) the references and compare; the data behind the printed tables."""
    from nas.results import references as baselines_eval
    from nas.results.compare import compare, side_by_side_rows, summary_lines
    from nas.results.front import pareto_front
    from nas.cli._study import open_study_from_args, study_dir
    from nas.record.points import distinct, study_objectives, study_points

    study = open_study_from_args(args)
    objectives = study_objectives(study)
    points = study_points(study)
    discovered = [p for p in pareto_front(distinct(points), objectives) if not p.baseline]
    if not discovered:
        raise ValueError(f"study {study.study_name!r} has no discovered model on its front yet "
                         "(only the reference, or nothing evaluated)")
    widths = [w.strip() for w in args.widths.split(",")] if args.widths else None
    names = baselines_eval.grid_names(args.baseline, widths)
    resolutions = _int_list(args.resolutions, "--resolutions") or front_resolutions(discovered)
    evaluated = baselines_eval.evaluate_grid(
        study=study, names=names, resolutions=resolutions, study_dir=study_dir(study, args))
    references = [point for point, _ in evaluated]
    comparisons = compare(discovered, references, objectives)
    return {
        "study": study.study_name,
        "objectives": objectives,
        "sources": {point.label: source for point, source in evaluated},
        "rows": side_by_side_rows(discovered, comparisons),
        "summary": summary_lines(comparisons),
        "comparisons": comparisons,
    }


def print_comparison(result: dict[str, Any], *, file=None) -> None:
    import pandas as pd

    file = file or sys.stdout
    table = pd.DataFrame(result["rows"]).drop(columns=["architecture"])
    table["accuracy_int8"] = table["accuracy_int8"].map(lambda v: f"{100 * v:.1f} %")
    with pd.option_context("display.max_colwidth", 40, "display.width", 250):
        print(table.fillna("").to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=file)
    objective_text = ", ".join(f"{n} ({d})" for n, d in result["objectives"].items())
    print(f"\ndominance over {objective_text}; references evaluated with the study's data, budget and profiler:",
          file=file)
    for label, source in result["sources"].items():
        print(f"  {label}: {source}", file=file)
    for line in result["summary"]:
        print(f"- {line}", file=file)


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError

    try:
        result = run_compare(args)
    except (StudyError, ValueError, KeyError, RuntimeError) as exc:
        print(f"nas compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = {k: v for k, v in result.items() if k != "comparisons"}
        print(json.dumps(out, indent=2, default=str))
    else:
        print_comparison(result)
    return 0

