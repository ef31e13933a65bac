"""`nas pareto`: the non-dominated trials of a study and the hypervolume of their front."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from nas.cli._study import add_study_arguments, open_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument(
        "--reference",
        default=None,
        metavar="NAME=VALUE,...",
        help="hypervolume reference point, e.g. accuracy=0,latency_ms_p50=50,size_bytes=2e6 "
        "(default: accuracy 0 and 1.1 x the worst latency / size of the study's trials)",
    )
    parser.add_argument("--json", action="store_true", help="print the front and hypervolume as JSON")


def _print_summary(summary, n_rows: int) -> None:
    objective_text = ", ".join(f"{n} ({d})" for n, d in summary.objectives.items())
    print(f"\n{n_rows} of {summary.n_evaluated} feasible evaluated trials are on the front of {objective_text}.")
    ref_text = ", ".join(f"{n}={v:g}" for n, v in summary.reference.items())
    print(f"hypervolume {summary.hypervolume:.6g} ({summary.hypervolume_units}) against reference {ref_text}")
    for m in summary.mobilenet_v2:
        verdict = "IS on the front" if m.on_front else "is NOT on the front (dominated by a discovered model)"
        print(f"MobileNetV2 reference {m.name} (trial {m.trial}) {verdict}")
    if not summary.mobilenet_v2:
        print("the study holds no evaluated MobileNetV2 reference trial")


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError
    from nas.results.front import parse_reference, summarize_front

    try:
        results = open_results(args)
        reference = parse_reference(args.reference, results.objectives) if args.reference else None
        summary = summarize_front(results.points, results.objectives, reference)
    except (StudyError, ValueError) as exc:
        print(f"nas pareto: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(results.name), indent=2))
        return 0
    import pandas as pd

    rows = summary.rows()
    table = pd.DataFrame([dataclasses.asdict(row) for row in rows])
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    _print_summary(summary, len(rows))
    return 0
