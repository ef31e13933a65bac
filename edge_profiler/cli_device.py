"""`edge-profiler device`: print the description sent with every measurement."""

from __future__ import annotations

import argparse
import json

from edge_profiler.device import describe_device
from edge_profiler.litert import RUNTIME_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIME_NAMES), help="LiteRT interpreter")


def run(args: argparse.Namespace) -> int:
    print(json.dumps(describe_device(runtime=args.runtime), indent=2))
    return 0
