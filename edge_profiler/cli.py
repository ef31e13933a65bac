"""`edge-profiler`: the command line of the on-device agent.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``
(the pattern of ``nas/cli.py``). Only the chosen subcommand's module is imported, so the Pi never
loads what it does not run. Add a subcommand with one line in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# (name, module, one-line description). Keep in the order a user meets them.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("serve", "edge_profiler.cli_serve", "run the latency agent (HTTP, loopback by default)"),
    ("bench", "edge_profiler.cli_bench", "measure a .tflite model here and print a summary"),
    ("device", "edge_profiler.cli_device", "print this device's description as JSON"),
    ("classify", "edge_profiler.classify",
     "classify camera, video or image-folder frames with an exported model (needs OpenCV)"),
]


def _chosen(argv: Sequence[str]) -> str | None:
    names = {name for name, _, _ in SUBCOMMANDS}
    return next((arg for arg in argv if arg in names), None)


def _build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-profiler",
        description="On-device latency agent for int8 TFLite models (Raspberry Pi or any Linux machine).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, module_name, help_text in SUBCOMMANDS:
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        if name == command:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(_chosen(argv))
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
