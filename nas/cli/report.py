"""`nas report`: a self-contained HTML report of a study and a PNG of its Pareto chart."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nas.cli._study import add_study_arguments

    add_study_arguments(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="HTML file to write (default: runs/<study>/report.html)")
    parser.add_argument("--png", type=Path, default=None,
                        help="PNG of the Pareto chart (default: next to the HTML, pareto.png)")


def run(args: argparse.Namespace) -> int:
    from nas.results import references as baselines_eval
    from nas.results.compare import compare, summary_lines
    from nas.results.report import build_html, save_png
    from nas.results.front import pareto_front
    from nas.record.study import StudyError
    from nas.cli._study import open_study_from_args, study_dir
    from nas.record.points import distinct, study_device, study_objectives, study_points

    try:
        study = open_study_from_args(args)
        objectives = study_objectives(study)
        points = study_points(study)
    except (StudyError, ValueError) as exc:
        print(f"nas report: {exc}", file=sys.stderr)
        return 2
    folder = study_dir(study, args)
    html_path = args.out or folder / "report.html"
    png_path = args.png or html_path.with_name("pareto.png")
    if not any(p.has_metrics(objectives) for p in points):
        print(f"nas report: study {study.study_name!r} has no evaluated trial yet", file=sys.stderr)
        return 2

    references = baselines_eval.load_cached(folder)
    comparisons = []
    if references:
        discovered = [p for p in pareto_front(distinct(points), objectives) if not p.baseline]
        if discovered:
            comparisons = compare(discovered, references, objectives)
    else:
        logger.info("no cached reference evaluations in %s; run `nas compare` to add the comparison", folder)
    from nas.cli.pareto import summarize

    try:
        pareto_summary = summarize(points, objectives, None)
    except ValueError as exc:  # e.g. every evaluated trial breaks a constraint
        notes = [f"No hypervolume: {exc}."]
    else:
        reference_text = ", ".join(f"{n} {v:g}" for n, v in pareto_summary["reference"].items())
        notes = [f"Hypervolume of the front: {pareto_summary['hypervolume']:.6g} "
                 f"({pareto_summary['hypervolume_units']}) against the reference point {reference_text}."]
    title = f"NAS study {study.study_name}"
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(
        build_html(points, title=title, device=study_device(points), comparisons=comparisons,
                   summary_lines=summary_lines(comparisons), objectives=objectives, notes=notes),
        encoding="utf-8",
    )
    save_png(points, png_path, references=[c.reference for c in comparisons], title=title, objectives=objectives)
    print(f"report: {html_path} ({html_path.stat().st_size / 1e6:.1f} MB, opens from disk)")
    print(f"chart:  {png_path}")
    return 0
