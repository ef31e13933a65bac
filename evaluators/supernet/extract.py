"""Copy a subnet's weights into the builder's own standalone model, and recalibrate its BatchNorm.

The standalone model is :func:`search_spaces.builder.build_model` of the architecture, so what is
scored is exactly what is exported. Its layers are found by the builder's names
(``stage<i>_block<j>_dw``, ``..._project_bn``, ...), each filled with the slice the supernet's forward
pass uses (first channels, centre of the kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluators.supernet.layout import VARIANTS, SupernetLayout
from search_spaces.architecture import Architecture
from search_spaces.cost import block_layout, se_channels

__all__ = ["recalibrate_batchnorm", "subnet_arrays"]

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


def recalibrate_batchnorm(model: Any, images: np.ndarray, *, batch_size: int = 100) -> int:
    """Reset every BatchNorm layer's moving statistics to those of ``images``; returns the layer count.

    As Once-for-All's ``set_running_statistics`` (Cai et al. 2020, ``ofa/utils/pytorch_utils`` /
    ``elastic_nn/utils.py``): the network runs in training mode, so every BatchNorm normalizes with
    its batch's statistics, and each layer's moving mean and variance become the average over the
    batches of its batch mean and (biased) batch variance.
    """
    from search_spaces.keras_backend import keras, tf

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    # One traced function: an eager call of a functional model dispatches every layer from Python.
    # training=True: each BatchNorm uses its batch statistics, as OFA's forward does.
    run = tf.function(lambda x: probe(x, training=True), autograph=False, reduce_retracing=True)
    sums = [[np.zeros(layer.input.shape[-1]), np.zeros(layer.input.shape[-1])] for layer in layers]
    total = 0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        outputs = run(tf.convert_to_tensor(batch))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for acc, tensor in zip(sums, outputs):
            mean, var = tf.nn.moments(tensor, [0, 1, 2])
            acc[0] += mean.numpy() * len(batch)
            acc[1] += var.numpy() * len(batch)
        total += len(batch)
    for layer, (mean_sum, var_sum) in zip(layers, sums):
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, (mean_sum / total).astype(np.float32), (var_sum / total).astype(np.float32)])
    return len(layers)
