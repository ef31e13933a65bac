"""Named baseline architectures, written as constants in the string form.

MobileNetV2 (Sandler et al. 2018) at the widths of ``tf_keras.applications.MobileNetV2``, with its
channel rounding applied (see :mod:`search_spaces.scaling`), and EfficientNet-B0 (Tan & Le 2019:
MBConv with squeeze-excite 0.25 and swish, dropout 0.2 before the classifier). Each has the same
parameter count as the ``tf_keras.applications`` model (tests pin it). All are at 224 px, 3 channels
and 1000 classes; use :meth:`Architecture.with_input` for another task.
"""

from __future__ import annotations

from search_spaces.architecture import Architecture

__all__ = ["BASELINES", "get_baseline", "list_baselines"]

BASELINES: dict[str, str] = {
    "mobilenet_v2_0.35": (
        "in224x3-stem_c16_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-ir_r2_k3_s2_e6_c8_relu6"
        "-ir_r3_k3_s2_e6_c16_relu6-ir_r4_k3_s2_e6_c24_relu6-ir_r3_k3_s1_e6_c32_relu6"
        "-ir_r3_k3_s2_e6_c56_relu6-ir_r1_k3_s1_e6_c112_relu6-head_c1280_relu6-cls1000"
    ),
    "mobilenet_v2_0.5": (
        "in224x3-stem_c16_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-ir_r2_k3_s2_e6_c16_relu6"
        "-ir_r3_k3_s2_e6_c16_relu6-ir_r4_k3_s2_e6_c32_relu6-ir_r3_k3_s1_e6_c48_relu6"
        "-ir_r3_k3_s2_e6_c80_relu6-ir_r1_k3_s1_e6_c160_relu6-head_c1280_relu6-cls1000"
    ),
    "mobilenet_v2_0.75": (
        "in224x3-stem_c24_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-ir_r2_k3_s2_e6_c24_relu6"
        "-ir_r3_k3_s2_e6_c24_relu6-ir_r4_k3_s2_e6_c48_relu6-ir_r3_k3_s1_e6_c72_relu6"
        "-ir_r3_k3_s2_e6_c120_relu6-ir_r1_k3_s1_e6_c240_relu6-head_c1280_relu6-cls1000"
    ),
    "mobilenet_v2_1.0": (
        "in224x3-stem_c32_k3_s2_relu6-ir_r1_k3_s1_e1_c16_relu6-ir_r2_k3_s2_e6_c24_relu6"
        "-ir_r3_k3_s2_e6_c32_relu6-ir_r4_k3_s2_e6_c64_relu6-ir_r3_k3_s1_e6_c96_relu6"
        "-ir_r3_k3_s2_e6_c160_relu6-ir_r1_k3_s1_e6_c320_relu6-head_c1280_relu6-cls1000"
    ),
    "mobilenet_v2_1.3": (
        "in224x3-stem_c40_k3_s2_relu6-ir_r1_k3_s1_e1_c24_relu6-ir_r2_k3_s2_e6_c32_relu6"
        "-ir_r3_k3_s2_e6_c40_relu6-ir_r4_k3_s2_e6_c80_relu6-ir_r3_k3_s1_e6_c128_relu6"
        "-ir_r3_k3_s2_e6_c208_relu6-ir_r1_k3_s1_e6_c416_relu6-head_c1664_relu6-cls1000"
    ),
    "mobilenet_v2_1.4": (
        "in224x3-stem_c48_k3_s2_relu6-ir_r1_k3_s1_e1_c24_relu6-ir_r2_k3_s2_e6_c32_relu6"
        "-ir_r3_k3_s2_e6_c48_relu6-ir_r4_k3_s2_e6_c88_relu6-ir_r3_k3_s1_e6_c136_relu6"
        "-ir_r3_k3_s2_e6_c224_relu6-ir_r1_k3_s1_e6_c448_relu6-head_c1792_relu6-cls1000"
    ),
    "efficientnet_b0": (
        "in224x3-stem_c32_k3_s2_swish-ir_r1_k3_s1_e1_c16_se0.25_swish"
        "-ir_r2_k3_s2_e6_c24_se0.25_swish-ir_r2_k5_s2_e6_c40_se0.25_swish"
        "-ir_r3_k3_s2_e6_c80_se0.25_swish-ir_r3_k5_s1_e6_c112_se0.25_swish"
        "-ir_r4_k5_s2_e6_c192_se0.25_swish-ir_r1_k3_s1_e6_c320_se0.25_swish"
        "-head_c1280_d0.2_swish-cls1000"
    ),
}


def list_baselines() -> list[str]:
    """Names accepted by :func:`get_baseline` (and by ``--baseline``)."""
    return list(BASELINES)


def get_baseline(name: str) -> Architecture:
    """The baseline architecture called ``name``; ``KeyError`` lists the known names."""
    try:
        text = BASELINES[name]
    except KeyError:
        raise KeyError(
            f"unknown baseline {name!r}; known: {', '.join(BASELINES)}"
        ) from None
    return Architecture.from_string(text)
