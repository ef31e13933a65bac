"""Quantization-aware training of builder architectures with squeeze-excite, hard-swish and swish."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from evaluators import ConversionError, DatasetConfig, QATConfig, TrainConfig, convert, evaluate_tflite, load_dataset
from search_spaces import Architecture, build_model
from search_spaces.keras_backend import keras

RESOLUTION = 32
# MobileNetV3-style: hard-swish everywhere, squeeze-excite in a fused (residual) and an MBConv stage.
HSWISH_SE = ("in32x1-stem_c16_k3_s2_hswish-er_r1_k3_s1_e2_c16_se0.25_hswish"
             "-ir_r1_k3_s2_e3_c24_se0.25_hswish-head_c64_hswish-cls10")
# EfficientNet-B0's first stages: swish, squeeze-excite 0.25, expansion 1 then 6, dropout before the classifier.
SWISH_SE = ("in32x1-stem_c16_k3_s2_swish-ir_r1_k3_s1_e1_c16_se0.25_swish"
            "-ir_r1_k3_s2_e6_c24_se0.25_swish-head_c64_d0.2_swish-cls10")


@pytest.fixture(scope="module")
def digits32() -> Any:
    return load_dataset(DatasetConfig(name="digits", seed=0), resolution=RESOLUTION, channels=1, batch_size=64)


def _trained(arch: str, data: Any) -> Any:
    from evaluators import train_model

    keras.utils.set_random_seed(0)
    model = build_model(Architecture.from_string(arch))
    train_model(model, data, TrainConfig(epochs=3, lr=1e-2, warmup_epochs=1, seed=0))
    return model


def _ops_and_tensor_types(tflite_bytes: bytes) -> tuple[Counter, set[str]]:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    op_names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}
    graph = model.subgraphs[0]
    ops = Counter(op_names[model.operatorCodes[op.opcodeIndex].builtinCode] for op in graph.operators)
    return ops, {type_names[tensor.type] for tensor in graph.tensors}


@pytest.mark.parametrize("arch", [HSWISH_SE, SWISH_SE], ids=["hswish_se", "swish_se"])
def test_qat_int8_is_fully_integer_and_as_accurate_as_int8(arch: str, digits32: Any) -> None:
    model = _trained(arch, digits32)
    int8 = convert(model, "int8", calibration=digits32)
    qat = convert(model, "qat_int8", calibration=digits32, qat=QATConfig(digits32, epochs=1))
    assert qat.details["qat_epochs"] == 1
    int8_ops, _ = _ops_and_tensor_types(int8.tflite_bytes)
    qat_ops, qat_types = _ops_and_tensor_types(qat.tflite_bytes)
    # Same kernels as post-training int8 (hard-swish still fused, no QUANTIZE/DEQUANTIZE inside),
    # and only int8 activations / int32 biases.
    assert qat_ops == int8_ops, (qat_ops, int8_ops)
    assert qat_types <= {"INT8", "INT32"}, qat_types
    assert ("HARD_SWISH" in qat_ops) == (arch == HSWISH_SE)
    int8_accuracy = evaluate_tflite(int8.tflite_bytes, digits32.val, digits32.class_names).accuracy
    qat_accuracy = evaluate_tflite(qat.tflite_bytes, digits32.val, digits32.class_names).accuracy
    # Chance is 0.10; three epochs reach ~0.75 here. One QAT epoch must not lose what training learned.
    assert int8_accuracy > 0.5, int8_accuracy
    assert qat_accuracy > 0.5 and qat_accuracy >= int8_accuracy - 0.1, (qat_accuracy, int8_accuracy)


def test_annotation_quantizes_se_and_hard_swish_outputs_only() -> None:
    from evaluators.qat import NoQuantizeConfig, OutputQuantizeConfig, hard_swish_layers, quantize_for_training

    model = build_model(Architecture.from_string(HSWISH_SE))
    hard_swish = hard_swish_layers(model)
    expected = {layer.name for layer in model.layers
                if isinstance(layer, keras.layers.Multiply) and layer.name.endswith("_hswish")}
    assert set(hard_swish) == expected and len(expected) >= 6
    configs = {layer.layer.name: type(layer.quantize_config)
               for layer in quantize_for_training(model).layers if hasattr(layer, "quantize_config")}
    for output, inner in hard_swish.items():
        assert configs[output] is OutputQuantizeConfig
        assert all(configs[name] is NoQuantizeConfig for name in inner), inner
    assert configs["stage2_block1_se_excite"] is OutputQuantizeConfig


def test_layers_tfmot_cannot_annotate_raise_a_named_error() -> None:
    from evaluators.qat import quantize_for_training

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x + 3.0)  # a TFOpLambda layer
    with pytest.raises(ConversionError, match="TFOpLambda"):
        quantize_for_training(keras.Model(inputs, outputs))
    inner = keras.Sequential([keras.layers.Conv2D(4, 3)], name="backbone")
    with pytest.raises(ConversionError, match="'backbone' is a nested model"):
        quantize_for_training(keras.Model(inputs, inner(inputs)))
