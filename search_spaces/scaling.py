"""Width scaling with MobileNetV2's rounding rules (Sandler et al. 2018; tf_keras.applications).

Channels are rounded to the nearest multiple of 8, never below 8 and never more than 10% below
the unrounded value (``make_divisible``). Stage channels are truncated to an integer first, as the
reference implementation does; the 1280-wide head only grows, for widths above 1.0.
"""

from __future__ import annotations

from search_spaces.architecture import CHANNEL_DIVISOR

__all__ = ["make_divisible", "scale_head", "scale_stage", "scale_stem"]


def make_divisible(value: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """Round ``value`` to a multiple of ``divisor`` (>= divisor), losing at most 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_stem(base_channels: int, width: float) -> int:
    """Stem channels at an overall width multiplier."""
    return make_divisible(base_channels * width)


def scale_stage(base_channels: int, width: float, stage_width: float = 1.0) -> int:
    """Stage output channels at an overall width times a per-stage multiplier."""
    return make_divisible(int(base_channels * width * stage_width))


def scale_head(base_channels: int, width: float) -> int:
    """Head channels: unchanged up to width 1.0, scaled above it."""
    return make_divisible(base_channels * width) if width > 1.0 else base_channels
