"""`nas report`: a self-contained HTML report of a study and a PNG of its Pareto chart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas.cli._output import print_report_files
from nas.cli._study import add_study_arguments, open_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_arguments(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="HTML file to write (default: runs/<study>/report.html)")
    parser.add_argument("--png", type=Path, default=None,
                        help="PNG of the Pareto chart (default: next to the HTML, pareto.png)")


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError
    from nas.results.report import write_report

    try:
        files = write_report(open_results(args), html_path=args.out, png_path=args.png)
    except (StudyError, ValueError) as exc:
        print(f"nas report: {exc}", file=sys.stderr)
        return 2
    print_report_files(files)
    return 0
