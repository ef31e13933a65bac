"""The Keras builder: any input size from 32 px, 1 or 3 channels, any number of classes."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from search_spaces import Architecture, arch_cost, build_model, feature_sizes, get_baseline
from search_spaces.keras_backend import keras
from tests.search_spaces.helpers import random_architecture

TINY = (
    "in{r}x{c}-stem_c8_k3_s2_relu6-ir_r1_k3_s1_e1_c8_relu6-er_r2_k3_s2_e2_c16_se0.25_hswish"
    "-er_r1_k3_s2_e1_c16_swish-ir_r2_k5_s1_e3_c16_se0.25_skipall_swish"
    "-ir_r2_k3_s2_e4_c32_noskip_relu6-head_c64_d0.2_hswish-cls{n}"
)


@pytest.mark.parametrize(
    "resolution, channels, classes",
    [(32, 1, 2), (48, 3, 10), (64, 1, 100), (96, 3, 2), (40, 3, 100), (33, 1, 10)],
)
def test_builds_and_runs_for_small_inputs_channels_and_classes(resolution, channels, classes):
    arch = Architecture.from_string(TINY.format(r=resolution, c=channels, n=classes))
    keras.backend.clear_session()
    model = build_model(arch)
    assert model.input_shape == (None, resolution, resolution, channels)
    assert model.output_shape == (None, classes)
    images = np.random.default_rng(0).uniform(-1, 1, (2, resolution, resolution, channels))
    probabilities = model(images.astype(np.float32), training=False).numpy()
    assert probabilities.shape == (2, classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.count_params() == arch_cost(arch).params
    last_conv = model.get_layer("head_conv")
    assert last_conv.input_shape[1] == feature_sizes(arch)[-1] >= 3


def test_params_match_arch_cost_over_sampled_architectures():
    rng = random.Random(11)
    for _ in range(8):
        arch = random_architecture(rng, max_channels=32)
        keras.backend.clear_session()
        model = build_model(arch)
        assert model.count_params() == arch_cost(arch).params, arch.to_string()
        assert model.output_shape == (None, arch.num_classes)


def test_residuals_follow_the_skip_rule():
    arch = Architecture.from_string(TINY.format(r=32, c=3, n=10))
    keras.backend.clear_session()
    names = {layer.name for layer in build_model(arch).layers}
    adds = sorted(name for name in names if name.endswith("_add"))
    # stage 1: 8 -> 8 at stride 1; stage 2 block 2; stage 4 (skipall) both blocks; stage 5 (noskip) none.
    assert adds == [
        "stage1_block1_add",
        "stage2_block2_add",
        "stage4_block1_add",
        "stage4_block2_add",
    ]
    assert "stage4_block1_se_excite" in names and "stage2_block1_fused_conv" in names
    assert "stage1_block1_expand_conv" not in names  # expansion 1: no expand conv


def test_batch_norm_momentum_is_configurable():
    arch = Architecture.from_string(TINY.format(r=32, c=3, n=10))
    keras.backend.clear_session()
    momenta = {
        layer.momentum
        for layer in build_model(arch, bn_momentum=0.8).layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert momenta == {0.8}
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        build_model(arch, bn_momentum=1.0)


def test_model_config_round_trips_through_keras_json():
    arch = Architecture.from_string(TINY.format(r=32, c=1, n=10))
    keras.backend.clear_session()
    model = build_model(arch)
    clone = keras.models.model_from_json(model.to_json())
    assert clone.count_params() == model.count_params()


def test_importing_search_spaces_does_not_import_tensorflow():
    code = (
        "import sys, search_spaces; "
        "search_spaces.get_baseline('mobilenet_v2_1.0'); search_spaces.SearchSpace.default().size(); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_macs_match_published_numbers():
    # Sandler et al. 2018 table: 300M (1.0), 59M (0.35); Tan & Le 2019: 0.39B for B0.
    macs_m = {n: arch_cost(get_baseline(n)).macs / 1e6 for n in ("mobilenet_v2_1.0", "mobilenet_v2_0.35", "efficientnet_b0")}
    assert 295 < macs_m["mobilenet_v2_1.0"] < 305
    assert 57 < macs_m["mobilenet_v2_0.35"] < 61
    assert 380 < macs_m["efficientnet_b0"] < 400
    # MACs grow with the input area as long as strides are kept.
    small = arch_cost(get_baseline("mobilenet_v2_1.0").with_input(resolution=112)).macs
    assert 0.2 < small / (macs_m["mobilenet_v2_1.0"] * 1e6) < 0.3
