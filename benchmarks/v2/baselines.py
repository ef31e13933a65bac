"""Baselines of benchmark v2 beyond the published strings of ``search_spaces.baselines``.

The small-input variant of MobileNetV2 keeps every block of the published network and only sets
the stem's stride to 1, as CIFAR-style adaptations of ImageNet networks do for 32 px inputs (e.g.
the CIFAR ResNets of He et al., CVPR 2016, sec. 4.2, which start without down-sampling). The
``Architecture`` value already carries the stem stride (``stem_c32_k3_s1``), so no new field is
needed; the builder reads ``stem.stride``.
"""

from __future__ import annotations

import dataclasses

from search_spaces.architecture import Architecture
from search_spaces.baselines import get_baseline

SMALL_INPUT_SUFFIX = "_stem_s1"
#: The plain small CNN of the protocol (section 4): not a point of the search space, so it has a name only.
SMALL_CNN = "small_cnn"
#: The two MobileNetV2 references the targets are stated against (protocol section 6).
BIG, SMALL = "mobilenet_v2_1.0", "mobilenet_v2_0.35"
SMALL_CNN_CHANNELS = (32, 64, 128)


def small_input_variant(arch: Architecture) -> Architecture:
    """``arch`` with a stride-1 stem; everything else (stages, head, input) unchanged."""
    return dataclasses.replace(arch, stem=dataclasses.replace(arch.stem, stride=1))


def get_v2_baseline(name: str) -> Architecture:
    """A published baseline by name, or its small-input variant when ``name`` ends with ``_stem_s1``."""
    if name.endswith(SMALL_INPUT_SUFFIX):
        return small_input_variant(get_baseline(name[: -len(SMALL_INPUT_SUFFIX)]))
    return get_baseline(name)


def v2_baseline_like(name: str, sample: Architecture) -> Architecture:
    """:func:`get_v2_baseline` at the input of ``sample`` (resolution, channels, classes)."""
    return get_v2_baseline(name).with_input(resolution=sample.resolution, channels=sample.channels,
                                            num_classes=sample.num_classes)


def build_small_cnn(resolution: int, channels: int, num_classes: int, *, bn_momentum: float = 0.9):  # noqa: ANN201
    """Three 3x3 conv-BN-ReLU blocks of 32, 64 and 128 channels, each followed by 2x2 max-pooling, global
    average pooling and a softmax classifier: the plain CNN every Fashion-MNIST tutorial starts from
    (a VGG-style stack, Simonyan & Zisserman 2015, at toy width). A ``tf_keras`` model, input in [-1, 1]."""
    from search_spaces.keras_backend import keras

    inputs = keras.Input((resolution, resolution, channels), name="image")
    x = inputs
    for index, width in enumerate(SMALL_CNN_CHANNELS):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"bn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=SMALL_CNN)


__all__ = ["BIG", "SMALL", "SMALL_CNN", "SMALL_INPUT_SUFFIX", "build_small_cnn", "get_v2_baseline",
           "small_input_variant", "v2_baseline_like"]
