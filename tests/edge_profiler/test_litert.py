"""edge_profiler.litert: the interpreter choice and int8 (de)quantization that the evaluators'
metrics, the profiler's timed loop and ``edge-profiler classify`` all use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_profiler import litert
from edge_profiler.litert import QuantizationError, dequantize, describe_runtime, load_runtime, quantize

INT8 = {"dtype": np.int8, "quantization": (2 / 255, -1)}


def test_the_preferred_runtime_is_found_without_importing_it_then_imported() -> None:
    info = describe_runtime()
    runtime = load_runtime()
    assert info == runtime.info and info.name == litert.RUNTIME_NAMES[0] == "ai_edge_litert"
    assert runtime.can_disable_xnnpack
    with pytest.raises(ValueError, match="unknown runtime 'tflite'"):
        load_runtime("tflite")


def test_quantize_follows_the_tflite_formula_and_clips() -> None:
    values = np.array([-1.0, 0.0, 0.5, 1.0, 3.0])
    expected = np.clip(np.round(values / INT8["quantization"][0]) - 1, -128, 127).astype(np.int8)
    got = quantize(values, INT8)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)
    assert got[-1] == 127  # clipped, not wrapped
    uint8 = quantize(np.array([-0.5, 0.5, 2.0]), {"dtype": np.uint8, "quantization": (0.01, 128)})
    assert uint8.dtype == np.uint8 and uint8.tolist() == [78, 178, 255]


def test_dequantize_inverts_quantize_within_half_a_step() -> None:
    values = np.linspace(-1, 1, 101)
    back = dequantize(quantize(values, INT8), INT8)
    assert back.dtype == np.float32
    assert np.abs(back - values).max() <= INT8["quantization"][0] / 2 + 1e-6


def test_float_tensors_are_cast_and_unquantized_integers_pass_through() -> None:
    assert quantize(np.array([0.25]), {"dtype": np.float32, "quantization": (0.0, 0)}).dtype == np.float32
    raw = np.array([3, -4], dtype=np.int8)
    np.testing.assert_array_equal(dequantize(raw, {"dtype": np.int8, "quantization": (0.0, 0)}), [3.0, -4.0])


@pytest.mark.parametrize(("detail", "message"), [
    ({"dtype": np.int8, "quantization": (0.0, 0)}, "carries no quantization parameters"),
    ({"dtype": np.int64, "quantization": (1.0, 0)}, "unsupported tensor type int64"),
])
def test_quantize_refuses_what_it_cannot_do(detail: dict, message: str) -> None:
    with pytest.raises(QuantizationError, match=message):
        quantize(np.zeros(2), detail)


@pytest.mark.parametrize("use_xnnpack", [True, False])
def test_interpreter_from_bytes_or_path_with_or_without_xnnpack(tiny_model_path: Path, tiny_model: bytes,
                                                              use_xnnpack: bool) -> None:
    runtime = load_runtime()
    outputs = []
    for model in (tiny_model, tiny_model_path):
        interpreter = runtime.interpreter(model, num_threads=1, use_xnnpack=use_xnnpack)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], quantize(np.zeros((1, 32, 32, 3)), detail))
        interpreter.invoke()
        output = interpreter.get_output_details()[0]
        outputs.append(dequantize(interpreter.get_tensor(output["index"]), output))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert outputs[0].shape == (1, 10) and abs(float(outputs[0].sum()) - 1.0) < 0.05  # softmax scores


@pytest.mark.parametrize("detail", [{"dtype": np.int8}, {"dtype": np.int8, "quantization": None},
                                    {"dtype": np.int8, "quantization": ()}])
def test_an_integer_tensor_without_quantization_parameters(detail: dict) -> None:
    assert not litert.is_quantized(detail)
    raw = np.array([3, -4], dtype=np.int8)
    got = dequantize(raw, detail)
    assert got.dtype == np.float32 and got.tolist() == [3.0, -4.0]
    with pytest.raises(QuantizationError, match="^tensor is int8 but carries no quantization parameters$"):
        quantize(np.zeros(2), detail)


def test_a_zero_zero_point_is_still_quantized() -> None:
    symmetric = {"dtype": np.int8, "quantization": (0.5, 0)}
    assert litert.is_quantized(symmetric) and not litert.is_quantized({"dtype": np.float32, "quantization": (0.5, 0)})
    assert dequantize([10, -3], symmetric).tolist() == [5.0, -1.5]  # a list is accepted too
    assert dequantize(np.array([[-128, 127]], np.int8), {"dtype": np.int8, "quantization": (0.25, -128)}).tolist() == [
        [0.0, 63.75]]
    assert quantize([0.0, 0.26], symmetric).tolist() == [0, 1]
