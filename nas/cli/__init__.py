"""`nas`: the search-side command line.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
the module is imported only when its subcommand runs, so ``nas --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# (name, module, one-line description). Keep in the order a user meets them.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("search", "nas.cli.search",
     "Run or resume a hardware-aware search (Optuna NSGA-II/TPE/random, Ray Tune, KerasTuner)"),
    ("supernet", "nas.cli.supernet",
     "Train (or resume) the weight-sharing supernet that `evaluator: supernet` scores candidates with"),
    ("trials", "nas.cli.trials", "The trials of a study as a table, or --csv / --json"),
    ("demo", "nas.cli.demo", "The offline default search on digits with MobileNetV2 as reference, then its result"),
    ("data", "nas.cli.data",
     "Build datasets: `nas data person` curates person/no_person from COCO or WiderPerson annotations"),
    ("pareto", "nas.cli.pareto", "The Pareto front of a study as a table, and its hypervolume"),
    ("export", "nas.cli.export", "Retrain a model of the front longer and write a verified int8 export folder"),
    ("compare", "nas.cli.compare", "The front against MobileNetV2 (or --baseline) evaluated the same way"),
    ("report", "nas.cli.report", "A self-contained HTML report of a study (interactive Pareto chart) and a PNG"),
    ("latency", "nas.cli.latency", "Calibrate a per-device latency predictor, predict with it, or measure"),
    ("space", "search_spaces.cli", "A search space's choices and size, the baselines' cost, or one architecture"),
]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas",
        allow_abbrev=False,
        description="Hardware-aware NAS for int8 TFLite models on a Raspberry Pi.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, module_name, help_text in SUBCOMMANDS:
        # No abbreviations: `--profiler.token` must not silently mean `--profiler.token_file`.
        sub_parser = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        sub_parser.set_defaults(_module=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
