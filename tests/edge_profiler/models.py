"""Test models. TensorFlow is allowed here (tests only), never inside edge_profiler."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tiny_int8_model() -> bytes:
    """Conv - depthwise - pointwise - pool - dense, fully int8 (input and output), 32x32x3."""
    from search_spaces.keras_backend import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    from evaluators import convert

    return convert(model, "int8", calibration="random", calibration_samples=8).tflite_bytes


def with_input_shape(model: bytes, shape: Sequence[int]) -> bytes:
    """Rewrite the first input tensor's declared shape with LiteRT's flatbuffer utilities."""
    from ai_edge_litert.tools import flatbuffer_utils

    model_object = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    subgraph = model_object.subgraphs[0]
    tensor = subgraph.tensors[subgraph.inputs[0]]
    tensor.shape = np.asarray(shape, dtype=np.int32)
    if tensor.shapeSignature is not None:
        tensor.shapeSignature = np.asarray([-1, *shape[1:]], dtype=np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_object))


def mutations(model: bytes, rng: np.random.Generator, *, random: int, truncated: int,
              flipped: int) -> list[tuple[str, bytes]]:
    """Malformed uploads: random bytes (some with a valid TFL3 header), truncations, and copies
    of the model with 1-8 bits flipped in its first 2 KiB (the flatbuffer tables, not weights)."""
    cases: list[tuple[str, bytes]] = []
    for i in range(random):
        data = rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes()
        if i % 2 and len(data) >= 8:  # pass the identifier check, fail deeper
            data = data[:4] + b"TFL3" + data[8:]
        cases.append(("random", data))
    for _ in range(truncated):
        cases.append(("truncated", model[: int(rng.integers(0, len(model) - 1))]))
    region = min(len(model), 2048)
    for _ in range(flipped):
        data = bytearray(model)
        for _ in range(int(rng.integers(1, 9))):
            position = int(rng.integers(0, region))
            data[position] ^= 1 << int(rng.integers(0, 8))
        cases.append(("bit-flipped", bytes(data)))
    return cases
