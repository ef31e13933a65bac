"""`nas space`: a search space's choices and size, the baselines, or one architecture's cost."""

from __future__ import annotations

import argparse
import json

from search_spaces.architecture import Architecture, ArchitectureError, effective_strides, feature_sizes
from search_spaces.baselines import get_baseline, list_baselines
from search_spaces.cost import arch_cost
from search_spaces.space import SearchSpace, SearchSpaceError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``nas space``."""
    parser.add_argument(
        "--space", metavar="YAML", help="search space YAML (default: the packaged default.yaml)"
    )
    parser.add_argument(
        "--baselines", action="store_true", help="list the baselines with parameters and MACs"
    )
    parser.add_argument(
        "--arch",
        metavar="STRING_OR_NAME",
        help="show one architecture (string form or baseline name): cost, strides, JSON",
    )
    parser.add_argument("--resolution", type=int, help="input resolution for --baselines / --arch")


def _load_arch(text: str) -> Architecture:
    return get_baseline(text) if text in list_baselines() else Architecture.from_string(text)


def _show_space(space: SearchSpace, source: str) -> None:
    print(f"space {space.name!r} ({source}): {space.size():,} distinct architectures")
    print(f"input: {space.channels} channels, {space.num_classes} classes")
    for choice in space.parameters():
        print(f"  {choice.name:<22} {list(choice.values)}")
    fixed = [c for c in space.all_choices() if len(c.values) == 1]
    print(f"  ({len(fixed)} fixed choices not listed)")


def _show_baselines(resolution: int | None) -> None:
    print(f"{'name':<20} {'resolution':>10} {'params':>12} {'MACs':>14}")
    for name in list_baselines():
        arch = get_baseline(name)
        if resolution:
            arch = arch.with_input(resolution=resolution)
        cost = arch_cost(arch)
        print(f"{name:<20} {arch.resolution:>10} {cost.params:>12,} {cost.macs:>14,}")


def _show_arch(arch: Architecture) -> None:
    cost = arch_cost(arch)
    print(arch.to_string())
    print(f"params {cost.params:,}  MACs {cost.macs:,}")
    print(f"strides per stage {list(effective_strides(arch))}, feature px {list(feature_sizes(arch))}")
    print(json.dumps(arch.to_json(), indent=2))


def run(args: argparse.Namespace) -> int:
    """Print what was asked; 2 with a message on bad input."""
    try:
        if args.arch:
            arch = _load_arch(args.arch)
            _show_arch(arch.with_input(resolution=args.resolution) if args.resolution else arch)
        elif args.baselines:
            _show_baselines(args.resolution)
        else:
            space = SearchSpace.from_yaml(args.space) if args.space else SearchSpace.default()
            _show_space(space, args.space or "default.yaml")
    except (ArchitectureError, SearchSpaceError, OSError) as error:
        print(f"error: {error}")
        return 2
    return 0
