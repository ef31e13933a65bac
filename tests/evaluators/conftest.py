"""Shared fixtures: one digits dataset and one trained tiny model for the whole package.

Training and conversions are the expensive parts, so the model is trained once per session and
every conversion / metrics test reuses it.
"""

from __future__ import annotations

from typing import Any

import pytest

# A tiny MBConv + Fused-MBConv network that keeps 16 px inputs above the builder's minimum feature size.
TINY_ARCH = "in16x1-stem_c8_k3_s2_relu6-er_r1_k3_s1_e2_c16_relu6-ir_r1_k3_s2_e2_c16_relu6-head_c32_relu6-cls10"
RESOLUTION = 16


@pytest.fixture(scope="session")
def digits() -> Any:
    from evaluators import DatasetConfig, load_dataset

    return load_dataset(DatasetConfig(name="digits", seed=0), resolution=RESOLUTION, channels=1, batch_size=64)


def tiny_keras_model(num_classes: int = 10, resolution: int = RESOLUTION, channels: int = 1) -> Any:
    """A plain conv net (no search_spaces involved) so conversion tests do not depend on the builder."""
    from search_spaces.keras_backend import keras

    inputs = keras.Input((resolution, resolution, channels))
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    # ~11k weights: enough that weights, not quantization parameters, dominate the file sizes.
    x = keras.layers.Conv2D(256, 1, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def trained(digits: Any) -> tuple[Any, Any]:
    """``(model, TrainResult)``: the tiny net after a short training on digits at 16 px."""
    from evaluators import TrainConfig, train_model
    from search_spaces.keras_backend import keras

    keras.utils.set_random_seed(0)
    model = tiny_keras_model()
    result = train_model(model, digits, TrainConfig(epochs=8, lr=1e-2, warmup_epochs=1, seed=0))
    return model, result


@pytest.fixture(scope="session")
def conversions(trained: tuple[Any, Any], digits: Any) -> dict[str, Any]:
    """The trained model in every format (QAT with one short fine-tune epoch)."""
    from evaluators import FORMATS, QATConfig, convert

    model, _ = trained
    qat = QATConfig(digits, epochs=1)
    return {fmt: convert(model, fmt, calibration=digits, qat=qat if fmt == "qat_int8" else None)
            for fmt in FORMATS}
