"""Analytic parameter and multiply-accumulate counts, without TensorFlow.

The counts follow the layers :mod:`search_spaces.builder` creates, so ``params`` equals Keras'
``model.count_params()`` (BatchNorm counted with its 4 weights per channel, of which the moving
mean and variance are not trainable). ``macs`` counts multiply-accumulates of convolutions,
squeeze-excite and the classifier at the adapted strides (BatchNorm folds into the convolutions
when converted to TFLite, activations and pooling are not counted).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from search_spaces.architecture import Architecture, effective_strides

__all__ = ["ArchCost", "arch_cost", "block_layout", "se_channels", "trainable_params"]

_BN_WEIGHTS_PER_CHANNEL = 4
_BN_TRAINABLE_PER_CHANNEL = 2


class ArchCost(NamedTuple):
    """Size and compute of an architecture."""

    params: int
    macs: int


class _Counter:
    def __init__(self) -> None:
        self.params = 0
        self.trainable = 0
        self.macs = 0

    def conv(self, kernel: int, c_in: int, c_out: int, out_px: int, *, bias: bool = False) -> None:
        weights = kernel * kernel * c_in * c_out + (c_out if bias else 0)
        self.params += weights
        self.trainable += weights
        self.macs += kernel * kernel * c_in * c_out * out_px * out_px

    def depthwise(self, kernel: int, channels: int, out_px: int) -> None:
        self.params += kernel * kernel * channels
        self.trainable += kernel * kernel * channels
        self.macs += kernel * kernel * channels * out_px * out_px

    def batch_norm(self, channels: int) -> None:
        self.params += _BN_WEIGHTS_PER_CHANNEL * channels
        self.trainable += _BN_TRAINABLE_PER_CHANNEL * channels

    def squeeze_excite(self, channels: int, reduced: int) -> None:
        self.conv(1, channels, reduced, 1, bias=True)
        self.conv(1, reduced, channels, 1, bias=True)


def block_layout(arch: Architecture) -> list[tuple[int, int, int, int]]:
    """Every block as ``(stage_index, block_index, in_channels, stride)`` with adapted strides."""
    layout = []
    in_channels = arch.stem.channels
    for stage_index, (stage, stride) in enumerate(zip(arch.stages, effective_strides(arch))):
        for block_index in range(stage.repeats):
            layout.append((stage_index, block_index, in_channels, stride if block_index == 0 else 1))
            in_channels = stage.channels
    return layout


def se_channels(in_channels: int, se_ratio: float) -> int:
    """Squeeze-excite bottleneck width, relative to the block input (EfficientNet's rule)."""
    return max(1, int(in_channels * se_ratio))


def arch_cost(arch: Architecture) -> ArchCost:
    """Parameters and MACs of ``build_model(arch)``, computed analytically."""
    count = _count(arch)
    return ArchCost(params=count.params, macs=count.macs)


def trainable_params(arch: Architecture) -> int:
    """Trainable parameters of ``build_model(arch)`` (BatchNorm moving statistics excluded)."""
    return _count(arch).trainable


def _count(arch: Architecture) -> _Counter:
    count = _Counter()
    px = math.ceil(arch.resolution / arch.stem.stride)
    count.conv(arch.stem.kernel, arch.channels, arch.stem.channels, px)
    count.batch_norm(arch.stem.channels)
    for stage_index, _block_index, c_in, stride in block_layout(arch):
        stage = arch.stages[stage_index]
        out_px = math.ceil(px / stride)
        c_out = stage.channels
        hidden = c_in * stage.expansion
        if stage.block == "mbconv":
            if stage.expansion != 1:
                count.conv(1, c_in, hidden, px)
                count.batch_norm(hidden)
            count.depthwise(stage.kernel, hidden, out_px)
            count.batch_norm(hidden)
            if stage.se_ratio:
                count.squeeze_excite(hidden, se_channels(c_in, stage.se_ratio))
            count.conv(1, hidden, c_out, out_px)
            count.batch_norm(c_out)
        else:  # fused_mbconv
            if stage.expansion == 1:
                count.conv(stage.kernel, c_in, c_out, out_px)
                count.batch_norm(c_out)
                if stage.se_ratio:
                    count.squeeze_excite(c_out, se_channels(c_in, stage.se_ratio))
            else:
                count.conv(stage.kernel, c_in, hidden, out_px)
                count.batch_norm(hidden)
                if stage.se_ratio:
                    count.squeeze_excite(hidden, se_channels(c_in, stage.se_ratio))
                count.conv(1, hidden, c_out, out_px)
                count.batch_norm(c_out)
        px = out_px
    last = arch.stages[-1].channels
    count.conv(1, last, arch.head.channels, px)
    count.batch_norm(arch.head.channels)
    count.conv(1, arch.head.channels, arch.num_classes, 1, bias=True)
    return count
