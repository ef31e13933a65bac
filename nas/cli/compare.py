"""`nas compare`: the study's front against MobileNetV2 (or another baseline) evaluated the same way."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from nas.cli._output import print_comparison
from nas.cli._study import add_study_arguments, open_results

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    from nas.record.study import StudyError
    from nas.results.references import compare_study

    try:
        result = compare_study(
            open_results(args),
            baselines=args.baseline,
            widths=[w.strip() for w in args.widths.split(",")] if args.widths else None,
            resolutions=_int_list(args.resolutions, "--resolutions"),
        )
    except (StudyError, ValueError, KeyError, RuntimeError) as exc:
        print(f"nas compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print_comparison(result)
    return 0
