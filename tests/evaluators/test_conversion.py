"""All five formats of the compression table, run through LiteRT; int8 accuracy vs. Keras."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluators import FORMATS, ConversionError, convert, evaluate_tflite
from evaluators.metrics import TFLiteClassifier


def test_every_format_loads_and_runs_in_litert_with_sizes_ordered(conversions: dict[str, Any], digits: Any,
                                                                   trained: Any) -> None:
    assert set(conversions) == set(FORMATS)
    sizes = {fmt: result.size_bytes for fmt, result in conversions.items()}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"], sizes
    # Dynamic range leaves tensors under 1,024 elements in float32, so only this ordering holds here.
    assert sizes["dynamic_range"] < sizes["float32"], sizes
    assert sizes["qat_int8"] < sizes["float16"], sizes
    _, train_result = trained
    for fmt, result in conversions.items():
        assert result.fmt == fmt and result.size_bytes == len(result.tflite_bytes) > 0
        assert result.seconds > 0
        metrics = evaluate_tflite(result.tflite_bytes, digits.val, digits.class_names)
        assert metrics.num_samples == digits.info["counts"]["val"]
        # Every format must still classify: far above the 10 % of chance.
        assert metrics.accuracy > 0.5, (fmt, metrics.accuracy, train_result.val_accuracy)


def test_int8_has_int8_input_and_output(conversions: dict[str, Any]) -> None:
    for fmt in ("int8", "qat_int8"):
        classifier = TFLiteClassifier(conversions[fmt].tflite_bytes)
        assert classifier._input["dtype"] == np.int8 and classifier._output["dtype"] == np.int8
    assert TFLiteClassifier(conversions["float32"].tflite_bytes)._input["dtype"] == np.float32


def test_int8_accuracy_within_three_points_of_keras(conversions: dict[str, Any], trained: Any, digits: Any) -> None:
    _, train_result = trained
    assert train_result.val_accuracy > 0.8, train_result
    int8 = evaluate_tflite(conversions["int8"].tflite_bytes, digits.val, digits.class_names)
    assert abs(train_result.val_accuracy - int8.accuracy) <= 0.03, (train_result.val_accuracy, int8.accuracy)


def test_float32_matches_keras_outputs(conversions: dict[str, Any], trained: Any, digits: Any) -> None:
    model, _ = trained
    images, _ = next(iter(digits.val))
    expected = model(images, training=False).numpy()
    got = TFLiteClassifier(conversions["float32"].tflite_bytes).predict(images.numpy())
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_qat_reports_its_fine_tune(conversions: dict[str, Any]) -> None:
    details = conversions["qat_int8"].details
    assert details["qat_epochs"] == 1 and 0.0 <= details["qat_keras_val_accuracy"] <= 1.0


def test_untrained_model_converts_with_random_calibration(trained: Any) -> None:
    model, _ = trained
    result = convert(model, "int8", calibration="random", calibration_samples=4)
    assert result.details["calibration_samples"] == 4
    assert TFLiteClassifier(result.tflite_bytes).input_shape == (16, 16, 1)


def test_conversion_errors_name_the_problem(trained: Any) -> None:
    model, _ = trained
    with pytest.raises(ConversionError, match="unknown format 'int4'"):
        convert(model, "int4")
    with pytest.raises(ConversionError, match="int8 needs calibration"):
        convert(model, "int8")
    with pytest.raises(ConversionError, match="qat_int8 needs qat"):
        convert(model, "qat_int8", calibration="random")
    with pytest.raises(ConversionError, match="the model expects"):
        convert(model, "int8", calibration=np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(ConversionError, match="calibration must be"):
        convert(model, "int8", calibration="noise")


def test_converter_settings_line_is_silenced_real_errors_kept(trained: Any, capfd: pytest.CaptureFixture[str]) -> None:
    import os

    from evaluators.conversion import _filtered_stderr

    model, _ = trained
    capfd.readouterr()
    convert(model, "int8", calibration="random", calibration_samples=4)
    assert "fully_quantize" not in capfd.readouterr().err  # the C++ quantizer's line on every int8 conversion
    with _filtered_stderr():
        os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8\n")
        os.write(2, b"error: 'tfl.conv_2d' op is neither a custom op nor a flex op\n")
    err = capfd.readouterr().err
    assert "fully_quantize" not in err and "error: 'tfl.conv_2d' op is neither a custom op nor a flex op\n" in err
