"""`nas supernet train`: train (or resume) the weight-sharing supernet of a study's space and dataset.

The supernet is what ``evaluator: supernet`` scores candidates with (Once-for-All, Cai et al. 2020;
BigNAS, Yu et al. 2020; docs/supernet.md). It reads the same search config as ``nas search``
(``--config`` and ``--set``): the space and its resolutions, the dataset, and the budget in
``evaluator.supernet.training``; it writes ``evaluator.supernet.folder`` (default
``<runs_dir>/<study>/supernet``). Each epoch is checkpointed: the same command resumes after an
interruption, and on a finished folder it only prints the summary.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

# Short flags for the config keys a supernet command most often sets.
_SHORT_FLAGS = {"study": "study.name", "runs_dir": "study.runs_dir", "dataset": "dataset.name"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train or resume the supernet of the configured study (evaluator.supernet)",
                           description="Train or resume the supernet of the configured study's space and dataset.")
    train.add_argument("--config", metavar="YAML", help="search config file (on top of the packaged default)")
    train.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                       help="set any config key, e.g. --set evaluator.supernet.training.epochs=20")
    train.add_argument("--study", default=None, help="study.name (the supernet goes beside the study)")
    train.add_argument("--runs-dir", default=None, help="study.runs_dir")
    train.add_argument("--dataset", default=None, help="dataset.name")
    output = train.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument("--json", action="store_true", help="no progress bar; print the summary as JSON")


def _overrides(args: argparse.Namespace) -> list[tuple[str, Any]]:
    from nas.config import parse_override

    pairs = [(key, getattr(args, flag)) for flag, key in _SHORT_FLAGS.items() if getattr(args, flag) is not None]
    return pairs + [parse_override(text) for text in args.set_values]


def _command(args: argparse.Namespace) -> str:
    """The command that resumes this training: the same one."""
    words = ["nas", "supernet", "train"]
    if args.config:
        words += ["--config", args.config]
    for flag, _ in _SHORT_FLAGS.items():
        if getattr(args, flag) is not None:
            words += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    for text in args.set_values:
        words += ["--set", text]
    return " ".join(shlex.quote(word) for word in words)


def train(config: Any, *, progress: bool) -> dict[str, Any]:
    """Train (or resume) the supernet of ``config``; the summary ``--json`` prints."""
    from evaluators.supernet import space_fingerprint, train_supernet
    from evaluators.supernet.store import read_manifest
    from nas.strategies._setup import build_space
    from nas.trial.supernet import study_input, supernet_fingerprint

    settings = config.evaluator.supernet
    folder = Path(settings.folder_for(config.study))
    channels, num_classes = study_input(config)
    space = build_space(config, channels=channels, num_classes=num_classes)
    before = read_manifest(folder)
    start = time.perf_counter()
    train_supernet(space, config.dataset, settings.training, folder, progress=progress)
    manifest = read_manifest(folder)
    history = manifest.history[-1] if manifest.history else {}
    return {"folder": str(folder.resolve()), "fingerprint": supernet_fingerprint(folder), "space": space.name,
            "space_fingerprint": space_fingerprint(space), "dataset": config.dataset.name,
            "resolutions": list(space.resolution), "epochs_done": manifest.epochs_done,
            "epochs": manifest.config.epochs, "finished": manifest.finished,
            "resumed_from_epoch": before.epochs_done if before is not None else None,
            "teacher_loss": history.get("teacher_loss"), "train_minutes": round(manifest.train_seconds / 60, 2),
            "seconds_this_run": round(time.perf_counter() - start, 1), "training": manifest.config.to_dict()}


def run(args: argparse.Namespace) -> int:
    from evaluators import DatasetError
    from evaluators.supernet import SupernetError
    from nas.config import ConfigError, load_config
    from search_spaces.space import SearchSpaceError

    try:
        config = load_config(args.config, _overrides(args))
        summary = train(config, progress=not (args.quiet or args.json))
    except (ConfigError, SupernetError, DatasetError, SearchSpaceError) as exc:
        print(f"nas supernet train: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnas supernet train: interrupted; finished epochs are kept\nresume with: {_command(args)}",
              file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"supernet of space {summary['space']} on {summary['dataset']}: {summary['epochs_done']}/"
              f"{summary['epochs']} epochs ({summary['train_minutes']} min of training) in {summary['folder']}\n"
              f"search with it: nas search ... --set evaluator.name=supernet")
    return 0
