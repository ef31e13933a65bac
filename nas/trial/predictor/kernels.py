"""The kernels of an architecture: the units a latency predictor is calibrated and summed over.

nn-Meter (Zhang et al., MobiSys 2021) predicts a model's latency as the sum of the latencies of its
*kernels* (the fused operator groups a runtime executes), each predicted by a regression model per
kernel kind, because a kernel's latency hardly depends on its neighbours. Here a kernel is one unit
the builder (:mod:`search_spaces.builder`) emits: the stem convolution, one MBConv or Fused-MBConv
block (with its squeeze-excite and residual add), the head 1x1 convolution, and the classifier
(global pooling + dense). :func:`kernels_of` lists them for an architecture; :func:`kernel_features`
turns one into the work it does (multiply-accumulates per operator, elements read and written per
elementwise operator, one per operator for its fixed cost), grouped by kind and kernel size, which
is what :mod:`nas.trial.predictor.model` regresses on.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from search_spaces.architecture import Architecture
from search_spaces.cost import block_layout, se_channels

KINDS = ("stem", "mbconv", "fused_mbconv", "head", "classifier")


@dataclasses.dataclass(frozen=True)
class Kernel:
    """One unit of an int8 model: its kind and every setting its latency depends on.

    ``in_px`` is the input feature-map side, ``stride`` the stride actually applied, ``se`` the
    squeeze-excite bottleneck width (0 = none), ``residual`` whether the block adds its input back.
    """

    kind: str
    in_px: int
    in_channels: int
    out_channels: int
    kernel: int = 1
    expansion: int = 1
    stride: int = 1
    se: int = 0
    activation: str = "relu6"
    residual: bool = False

    @property
    def out_px(self) -> int:
        return math.ceil(self.in_px / self.stride)

    def key(self) -> str:
        """A stable text form: the key of the measured-kernel table and of the calibration log."""
        return (f"{self.kind}:px{self.in_px}:i{self.in_channels}:o{self.out_channels}:k{self.kernel}"
                f":e{self.expansion}:s{self.stride}:se{self.se}:{self.activation}:r{int(self.residual)}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Kernel:
        return cls(**data)


def kernels_of(arch: Architecture) -> list[Kernel]:
    """The kernels of ``build_model(arch)`` in execution order (strides adapted to small inputs)."""
    stem = arch.stem
    kernels = [Kernel("stem", arch.resolution, arch.channels, stem.channels, stem.kernel, 1, stem.stride, 0,
                      stem.activation)]
    px = math.ceil(arch.resolution / stem.stride)
    for stage_index, block_index, c_in, stride in block_layout(arch):
        stage = arch.stages[stage_index]
        se = se_channels(c_in, stage.se_ratio) if stage.se_ratio else 0
        kernels.append(Kernel(stage.block, px, c_in, stage.channels, stage.kernel, stage.expansion, stride, se,
                              stage.activation, _has_residual(stage, block_index, c_in)))
        px = math.ceil(px / stride)
    last = arch.stages[-1].channels
    kernels.append(Kernel("head", px, last, arch.head.channels, 1, 1, 1, 0, arch.head.activation))
    kernels.append(Kernel("classifier", px, arch.head.channels, arch.num_classes))
    return kernels


def _has_residual(stage: Any, block_index: int, in_channels: int) -> bool:
    """The builder's residual rule (``search_spaces.builder``; repeated so predicting needs no TensorFlow)."""
    if stage.skip == "none":
        return False
    nominal_stride = stage.stride if block_index == 0 else 1
    return nominal_stride == 1 and in_channels == stage.channels


def _act(features: dict[str, float], kind: str, activation: str, elements: float) -> None:
    # ReLU6 fuses into the convolution in TFLite; h-swish and swish are operators of their own.
    ops = f"{kind.split(':')[0]}:ops"
    features[ops] += 1.0
    if activation != "relu6":
        features[f"{kind}:act_{activation}_elems"] = features.get(f"{kind}:act_{activation}_elems", 0.0) + elements
        features[ops] += 1.0


def _se(features: dict[str, float], kind: str, k: Kernel, channels: int, px: int) -> None:
    features[f"{kind}:se_elems"] = 2.0 * px * px * channels  # pool + gating multiply
    features[f"{kind}:se_macs"] = 2.0 * channels * k.se
    features[f"{kind}:ops"] += 4.0
    _act(features, f"{kind}:se", k.activation, k.se)


def kernel_features(k: Kernel) -> dict[str, float]:
    """The regression features of ``k``: work per operator class, named ``kind:what`` (see module doc)."""
    kind, out_px = k.kind, k.out_px
    hidden = k.in_channels * k.expansion
    f: dict[str, float] = {f"{kind}:ops": 0.0}
    if kind in ("stem", "head"):
        f[f"{kind}:conv_k{k.kernel}_macs"] = float(out_px * out_px * k.kernel**2 * k.in_channels * k.out_channels)
        f[f"{kind}:out_elems"] = float(out_px * out_px * k.out_channels)
        _act(f, kind, k.activation, out_px * out_px * k.out_channels)
    elif kind == "classifier":
        f[f"{kind}:pool_elems"] = float(k.in_px * k.in_px * k.in_channels)
        f[f"{kind}:dense_macs"] = float(k.in_channels * k.out_channels)
        f[f"{kind}:ops"] += 3.0  # mean, fully connected, softmax
    elif kind == "mbconv":
        if k.expansion != 1:
            f[f"{kind}:expand_macs"] = float(k.in_px * k.in_px * k.in_channels * hidden)
            _act(f, kind, k.activation, k.in_px * k.in_px * hidden)
        f[f"{kind}:dw_k{k.kernel}_s{k.stride}_macs"] = float(out_px * out_px * k.kernel**2 * hidden)
        _act(f, kind, k.activation, out_px * out_px * hidden)
        if k.se:
            _se(f, kind, k, hidden, out_px)
        f[f"{kind}:project_macs"] = float(out_px * out_px * hidden * k.out_channels)
        f[f"{kind}:ops"] += 1.0
    elif kind == "fused_mbconv":
        first_out = k.out_channels if k.expansion == 1 else hidden
        f[f"{kind}:conv_k{k.kernel}_macs"] = float(out_px * out_px * k.kernel**2 * k.in_channels * first_out)
        _act(f, kind, k.activation, out_px * out_px * first_out)
        if k.se:
            _se(f, kind, k, first_out, out_px)
        if k.expansion != 1:
            f[f"{kind}:project_macs"] = float(out_px * out_px * hidden * k.out_channels)
            f[f"{kind}:ops"] += 1.0
    else:
        raise ValueError(f"unknown kernel kind {kind!r}; known: {', '.join(KINDS)}")
    if k.residual:
        f[f"{kind}:add_elems"] = float(out_px * out_px * k.out_channels)
        f[f"{kind}:ops"] += 1.0
    return f
