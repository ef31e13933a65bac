"""`nas demo` (``make demo``): the offline default search, then its result.

It runs `nas search` with the packaged default config (digits, small proxy budget, local profiler,
NSGA-II, MobileNetV2 0.35 as the first trial) into ``runs/demo/``; running it again resumes or, if the
study is complete, only prints the result. Later steps (export, comparison) are appended to
:func:`run` after the search step.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default="runs", type=Path, help="folder for runs/demo/ (default: runs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from nas.cli._search import execute
    from nas.config import load_config

    start = time.perf_counter()
    config = load_config(overrides={"study.runs_dir": str(args.runs_dir)})
    code = execute(config, quiet=args.quiet)
    if code:
        return code
    print(f"demo search step: {time.perf_counter() - start:.0f} s")
    from nas.cli._demo_results import run_result_steps

    code = run_result_steps(config.study.name, args.runs_dir)
    print(f"demo total: {time.perf_counter() - start:.0f} s")
    return code
