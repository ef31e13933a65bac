"""Random architectures for property tests: every field, including ones the default space fixes."""

from __future__ import annotations

import random

from search_spaces import Architecture, HeadSpec, StageSpec, StemSpec
from search_spaces.architecture import ACTIVATIONS, BLOCK_TYPES


def random_architecture(rng: random.Random, *, max_channels: int = 64) -> Architecture:
    """A valid architecture with random values in every field (small enough to build fast)."""
    stem = StemSpec(
        channels=8 * rng.randint(1, max_channels // 8),
        kernel=rng.choice([1, 3, 5]),
        stride=rng.choice([1, 2]),
        activation=rng.choice(ACTIVATIONS),
    )
    stages = []
    in_channels = stem.channels
    for _ in range(rng.randint(1, 5)):
        stride = rng.choice([1, 2])
        channels = 8 * rng.randint(1, max_channels // 8)
        skip = rng.choice(["auto", "none"])
        if rng.random() < 0.2:
            stride, channels, skip = 1, in_channels, "all"
        stages.append(
            StageSpec(
                block=rng.choice(BLOCK_TYPES),
                expansion=rng.choice([1, 2, 3, 4, 6]),
                kernel=rng.choice([1, 3, 5, 7]),
                channels=channels,
                repeats=rng.randint(1, 3),
                stride=stride,
                se_ratio=rng.choice([0.0, 0.0, 0.25, 0.125, 1 / 3, 1e-05, 1.0]),
                activation=rng.choice(ACTIVATIONS),
                skip=skip,
            )
        )
        in_channels = channels
    head = HeadSpec(
        channels=8 * rng.randint(1, 2 * max_channels // 8),
        dropout=rng.choice([0.0, 0.2, 0.5, 1e-07, 0.1 + 0.2]),
        activation=rng.choice(ACTIVATIONS),
    )
    return Architecture(
        resolution=rng.randint(max(8, 4 * stem.stride), 96),
        channels=rng.choice([1, 3]),
        num_classes=rng.randint(2, 100),
        stem=stem,
        stages=tuple(stages),
        head=head,
    )
