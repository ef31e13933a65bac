"""Baselines: exact parameter parity with tf_keras.applications, and the registry."""

from __future__ import annotations

import pytest

from search_spaces import arch_cost, build_model, get_baseline, list_baselines, trainable_params
from search_spaces.architecture import Architecture
from search_spaces.keras_backend import keras
from search_spaces.scaling import scale_head, scale_stage, scale_stem

# Parameter counts do not depend on the input size; a small input keeps the test fast.
RESOLUTION = 32
CLASSES = 10
WIDTHS = ["0.35", "0.5", "0.75", "1.0", "1.3", "1.4"]


def _trainable(model) -> int:
    return sum(keras.backend.count_params(w) for w in model.trainable_weights)


@pytest.mark.parametrize("width", WIDTHS)
def test_mobilenet_v2_has_exactly_the_parameters_of_tf_keras_applications(width):
    arch = get_baseline(f"mobilenet_v2_{width}").with_input(resolution=RESOLUTION, num_classes=CLASSES)
    keras.backend.clear_session()
    ours = build_model(arch)
    reference = keras.applications.MobileNetV2(
        alpha=float(width), weights=None, input_shape=(RESOLUTION, RESOLUTION, 3), classes=CLASSES
    )
    assert ours.count_params() == reference.count_params()
    assert _trainable(ours) == _trainable(reference)
    assert arch_cost(arch).params == reference.count_params()
    assert trainable_params(arch) == _trainable(reference)


def test_efficientnet_b0_has_the_trainable_parameters_of_tf_keras_applications():
    arch = get_baseline("efficientnet_b0").with_input(resolution=RESOLUTION, num_classes=CLASSES)
    keras.backend.clear_session()
    ours = build_model(arch)
    reference = keras.applications.EfficientNetB0(
        weights=None, input_shape=(RESOLUTION, RESOLUTION, 3), classes=CLASSES
    )
    assert _trainable(ours) == _trainable(reference)
    assert trainable_params(arch) == _trainable(reference)
    # The reference also holds its input Normalization layer's mean, variance and count (7 values).
    assert reference.count_params() - ours.count_params() == 3 + 3 + 1


def test_published_parameter_counts_at_imagenet_size():
    # Sandler et al. 2018 (3.4M at width 1.0) and Tan & Le 2019 (5.3M for B0), as Keras reports them.
    assert arch_cost(get_baseline("mobilenet_v2_1.0")).params == 3_538_984
    assert trainable_params(get_baseline("efficientnet_b0")) == 5_288_548


@pytest.mark.parametrize("width", WIDTHS)
def test_mobilenet_v2_constants_follow_the_width_rule(width):
    alpha = float(width)
    reference = get_baseline("mobilenet_v2_1.0")
    arch = get_baseline(f"mobilenet_v2_{width}")
    assert arch.stem.channels == scale_stem(32, alpha)
    assert arch.head.channels == scale_head(1280, alpha)
    assert [s.channels for s in arch.stages] == [
        scale_stage(s.channels, alpha) for s in reference.stages
    ]


def test_registry_lists_every_baseline_and_rejects_unknown_names():
    names = list_baselines()
    assert names == [f"mobilenet_v2_{w}" for w in WIDTHS] + ["efficientnet_b0"]
    for name in names:
        arch = get_baseline(name)
        assert isinstance(arch, Architecture)
        assert (arch.resolution, arch.channels, arch.num_classes) == (224, 3, 1000)
    with pytest.raises(KeyError, match="unknown baseline 'mobilenet_v3'; known: mobilenet_v2_0.35"):
        get_baseline("mobilenet_v3")
