"""`nas search`: run or resume a hardware-aware search (config: nas/default_search.yaml + flags).

Every key of the default config is a flag (``--strategy.n_trials 12``); the common ones also have
short forms (``--n-trials 12``); ``--set key=value`` sets any key, including ``dataset.*`` and
``training.*`` fields. Running the same command again (or with ``--resume``) continues the study.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from nas.cli._search import execute, resume_command
from nas.config import ConfigError, default_config_dict, leaf_keys

logger = logging.getLogger(__name__)

# dotted key -> extra short flag(s)
SHORT_FLAGS: dict[str, tuple[str, ...]] = {
    "study.name": ("--study",),
    "study.storage": ("--storage",),
    "study.runs_dir": ("--runs-dir",),
    "study.seed": ("--seed",),
    "strategy.name": ("--strategy",),
    "strategy.n_trials": ("--n-trials",),
    "strategy.timeout_s": ("--timeout-s",),
    "backend.name": ("--backend",),
    "backend.address": ("--address",),
    "objectives": ("--objectives",),
    "dataset.name": ("--dataset",),
    "training.epochs": ("--epochs",),
    "constraints.max_latency_ms": ("--max-latency-ms",),
    "constraints.max_size_bytes": ("--max-size-bytes",),
    "constraints.min_accuracy": ("--min-accuracy",),
    "profiler.kind": ("--profiler",),
    "profiler.urls": ("--profiler-urls",),
    "reference.baseline": ("--reference",),
    "evaluator.name": ("--evaluator",),
}
_DEST_PREFIX = "cfg__"


def add_search_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--set`` and one flag per config key (values parsed as YAML)."""
    parser.add_argument("--config", metavar="YAML", help="search config file (on top of the packaged default)")
    parser.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                        help="set any config key, e.g. --set training.epochs=2 --set dataset.name=fashion-mnist")
    defaults = default_config_dict()
    group = parser.add_argument_group("config keys (default: nas/default_search.yaml)")
    for key in leaf_keys(defaults):
        flags = (f"--{key}", *SHORT_FLAGS.get(key, ()))
        group.add_argument(*flags, dest=_DEST_PREFIX + key.replace(".", "__"), default=None, metavar="V",
                           help=f"default: {_lookup(defaults, key)!r}")


def _lookup(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree


def config_overrides(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(dotted key, raw value) pairs from the flags, ``--set`` last so it wins."""
    from nas.config import parse_override

    overrides: list[tuple[str, Any]] = []
    for dest, value in vars(args).items():
        if dest.startswith(_DEST_PREFIX) and value is not None:
            overrides.append((dest[len(_DEST_PREFIX):].replace("__", "."), value))
    overrides.extend(parse_override(text) for text in args.set_values)
    return overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue an existing study (fails if there is none); "
                        "running the same command again does the same")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="no progress bar or per-trial lines; final summary only")
    output.add_argument("--json", action="store_true",
                        help="one JSON line per finished trial and a final JSON summary on stdout")
    add_search_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from nas.config import load_config

    try:
        overrides = config_overrides(args)
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"nas search: invalid config: {exc}", file=sys.stderr)
        return 2
    return execute(config, resume=args.resume, quiet=args.quiet, json_output=args.json,
                   resume_hint=resume_command(args.config, overrides))
