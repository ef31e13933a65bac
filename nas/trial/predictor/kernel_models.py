"""Small int8 TFLite models of single kernels, built on the search machine (nn-Meter's kernel samples).

Each model is one kernel of :mod:`nas.trial.predictor.kernels` with the builder's own layers
(``search_spaces.builder``), so the calibration measures exactly the operators a candidate contains,
converted by :func:`evaluators.conversion.convert` exactly as a candidate is (full-integer int8,
int8 input and output, random calibration images). The agent receives them as ordinary
measurement requests: it stays small and knows nothing of kernels.
"""

from __future__ import annotations

from typing import Any

from nas.trial.predictor.kernels import Kernel


def _stage_for(kernel: Kernel) -> Any:
    from search_spaces.architecture import StageSpec

    # se_channels(in, ratio) = max(1, int(in * ratio)): half a channel above keeps the rounding exact.
    ratio = min(1.0, (kernel.se + 0.5) / kernel.in_channels) if kernel.se else 0.0
    return StageSpec(block=kernel.kind, expansion=kernel.expansion, kernel=kernel.kernel,
                     channels=kernel.out_channels, repeats=1, stride=kernel.stride, se_ratio=ratio,
                     activation=kernel.activation)


def build_kernel_model(kernel: Kernel, *, seed: int = 0) -> Any:
    """A ``tf_keras`` model computing just ``kernel`` on a ``in_px x in_px x in_channels`` input."""
    from search_spaces.builder import _block, _Layers  # the builder's blocks, not a copy of them
    from search_spaces.keras_backend import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    layers = _Layers(0.9)
    inputs = keras.Input(shape=(kernel.in_px, kernel.in_px, kernel.in_channels), name="image")
    if kernel.kind in ("stem", "head"):
        x = layers.conv_bn_act(inputs, kernel.out_channels, kernel.kernel, kernel.stride, kernel.activation,
                               kernel.kind)
    elif kernel.kind == "classifier":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
        x = keras.layers.Dense(kernel.out_channels, activation="softmax", name="classifier")(x)
    else:
        x = _block(layers, inputs, _stage_for(kernel), kernel.in_channels, kernel.stride, "block")
        if kernel.residual:
            x = keras.layers.Add(name="block_add")([inputs, x])
    return keras.Model(inputs, x, name="kernel")


def convert_int8(model: Any, *, seed: int = 0) -> bytes:
    """The int8 flatbuffer of ``model``, converted as candidates are (random calibration images)."""
    from evaluators.conversion import convert

    return convert(model, "int8", calibration="random", calibration_samples=8, seed=seed).tflite_bytes


def kernel_tflite(kernel: Kernel, *, seed: int = 0) -> bytes:
    """Build and convert the calibration model of ``kernel``."""
    return convert_int8(build_kernel_model(kernel, seed=seed), seed=seed)


def arch_tflite(arch: Any, *, seed: int = 0) -> bytes:
    """The untrained int8 model of a whole architecture, as the search's cheap evaluator converts it."""
    from search_spaces import build_model
    from search_spaces.keras_backend import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return convert_int8(build_model(arch), seed=seed)
