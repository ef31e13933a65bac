"""Copy a subnet's weights into the builder's own standalone model, and recalibrate its BatchNorm.

The standalone model is :func:`search_spaces.builder.build_model` of the architecture, so what is
scored is exactly what is exported. Its layers are found by the builder's names
(``stage<i>_block<j>_dw``, ``..._project_bn``, ...), each filled with the slice the supernet's forward
pass uses (first channels, centre of the kernel). BatchNorm statistics are recalibrated before, in the
supernet (:meth:`evaluators.supernet.Supernet.recalibrated`).
"""

from __future__ import annotations

import numpy as np

from evaluators.supernet.layout import VARIANTS, SupernetLayout
from search_spaces.architecture import Architecture
from search_spaces.cost import block_layout, se_channels

__all__ = ["subnet_arrays"]

_BN_PARTS = ("gamma", "beta", "moving_mean", "moving_variance")


def _conv(weights: dict[str, np.ndarray], name: str, kernel: int, c_in: int, c_out: int) -> np.ndarray:
    full = weights[name]
    offset = (full.shape[0] - kernel) // 2
    return full[offset:offset + kernel, offset:offset + kernel, :c_in, :c_out]


def _bn(weights: dict[str, np.ndarray], prefix: str, channels: int) -> list[np.ndarray]:
    return [weights[f"{prefix}_{part}"][:channels] for part in _BN_PARTS]


def subnet_arrays(layout: SupernetLayout, weights: dict[str, np.ndarray], arch: Architecture) -> dict[str, list]:
    """``{builder layer name: [arrays in get_weights() order]}`` for ``arch`` (a checked subnet)."""
    out: dict[str, list] = {
        "stem_conv": [_conv(weights, "stem_conv_kernel", arch.stem.kernel, arch.channels, arch.stem.channels)],
        "stem_bn": _bn(weights, "stem_bn", arch.stem.channels),
    }
    for stage_index, block_index, c_in, _stride in block_layout(arch):
        spec = arch.stages[stage_index]
        stage = layout.stages[stage_index]
        slot = stage.slots[block_index]
        variant = VARIANTS[(spec.block, spec.expansion == 1)]
        p = f"s{stage.number}b{slot.index + 1}_{variant}"
        name = f"stage{stage_index + 1}_block{block_index + 1}"
        hidden = c_in * spec.expansion if variant in ("ir", "er") else c_in if variant == "ir1" else spec.channels
        k = spec.kernel
        if variant == "ir":
            out[f"{name}_expand_conv"] = [_conv(weights, f"{p}_expand_kernel", 1, c_in, hidden)]
            out[f"{name}_expand_bn"] = _bn(weights, f"{p}_expand_bn", hidden)
        if variant in ("ir", "ir1"):
            out[f"{name}_dw"] = [_conv(weights, f"{p}_dw_kernel", k, hidden, 1)]
            out[f"{name}_dw_bn"] = _bn(weights, f"{p}_dw_bn", hidden)
        else:
            out[f"{name}_fused_conv"] = [_conv(weights, f"{p}_fused_kernel", k, c_in, hidden)]
            out[f"{name}_fused_bn"] = _bn(weights, f"{p}_fused_bn", hidden)
        if spec.se_ratio:
            reduced = se_channels(c_in, spec.se_ratio)
            out[f"{name}_se_reduce"] = [weights[f"{p}_se_reduce_kernel"][:, :, :hidden, :reduced],
                                        weights[f"{p}_se_reduce_bias"][:reduced]]
            out[f"{name}_se_expand"] = [weights[f"{p}_se_expand_kernel"][:, :, :reduced, :hidden],
                                        weights[f"{p}_se_expand_bias"][:hidden]]
        if variant != "er1":
            out[f"{name}_project"] = [_conv(weights, f"{p}_project_kernel", 1, hidden, spec.channels)]
            out[f"{name}_project_bn"] = _bn(weights, f"{p}_project_bn", spec.channels)
    out["head_conv"] = [_conv(weights, "head_conv_kernel", 1, arch.stages[-1].channels, arch.head.channels)]
    out["head_bn"] = _bn(weights, "head_bn", arch.head.channels)
    out["classifier"] = [weights["classifier_kernel"][: arch.head.channels], weights["classifier_bias"]]
    return out
