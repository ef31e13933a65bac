"""Keras -> TFLite in the five formats of the compression table.

Formats (TensorFlow Lite post-training quantization guide; Jacob et al., CVPR 2018 for int8 and
quantization-aware training with tensorflow-model-optimization):

- ``float32``: no optimization.
- ``float16``: float16 weights.
- ``dynamic_range``: int8 weights, float activations.
- ``int8``: full-integer, int8 input and output, activations calibrated on representative images.
- ``qat_int8``: tfmot fake quantization (:mod:`evaluators.qat`: ``quantize_apply`` with configs
  for squeeze-excite and hard-swish) + a short fine-tune, then ``int8``.

Speed. ``TFLiteConverter.from_keras_model`` costs 13.8 s for MobileNetV2-0.35 at 96 px on this
machine (2 shared cores, TF 2.21) whatever the calibration size; cProfile shows 12.9 s of it inside
``tf.saved_model.save``: since TF 2.7 the converter lowers a Keras model to a temporary SavedModel,
and tf_keras traces every layer's call functions to serialize them. ``experimental_lower_to_saved_model
= False`` still costs 10 s (Keras' own model tracing). Tracing the model once ourselves as a
``tf.function`` with a fixed batch-1 signature and converting that concrete function without a
trackable object takes the frozen-graph path (freeze variables, grappler, MLIR): 0.6-1.3 s for the same
model and every format, outputs identical to the Keras model for float32 (max |diff| 0) and within one
int8 step for int8. For the builder's MobileNetV2-0.35 at 96 px, int8 with 100 calibration images,
under load (load average 3.5): 1.7-1.9 s here vs. 22.5 s (``from_keras_model``) and 9.2 s (with
``experimental_lower_to_saved_model = False``). That is the path used here; ``from_keras_model``
remains the fallback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluators.errors import ConversionError

if TYPE_CHECKING:  # pragma: no cover
    from evaluators.datasets import Dataset

logger = logging.getLogger(__name__)

FORMATS = ("float32", "float16", "dynamic_range", "int8", "qat_int8")


@dataclass(frozen=True)
class QATConfig:
    """Quantization-aware fine-tune before ``qat_int8`` conversion (tfmot ``quantize_model``)."""

    dataset: Dataset
    epochs: int = 1
    learning_rate: float = 1e-4
    steps_per_epoch: int | None = None


@dataclass
class ConversionResult:
    """One converted model: ``size_bytes`` is the flatbuffer's length; ``seconds`` the wall time."""

    fmt: str
    tflite_bytes: bytes = field(repr=False)
    size_bytes: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.tflite_bytes)
        return target


def _input_shape(model: Any) -> tuple[int, ...]:
    shape = tuple(model.inputs[0].shape[1:])
    if any(dim is None for dim in shape):
        raise ConversionError(f"model input shape {shape} must be fully defined (besides batch)")
    return tuple(int(d) for d in shape)


def _calibration_images(calibration: Any, shape: tuple[int, ...], samples: int, seed: int) -> np.ndarray:
    if isinstance(calibration, str):
        if calibration != "random":
            raise ConversionError(f"calibration must be a Dataset, images, or 'random'; got {calibration!r}")
        rng = np.random.default_rng(seed)
        return rng.uniform(-1.0, 1.0, size=(samples, *shape)).astype(np.float32)
    if hasattr(calibration, "calibration_images"):
        images = calibration.calibration_images(samples)
    elif isinstance(calibration, np.ndarray):
        images = calibration[:samples].astype(np.float32)
    else:  # a tf.data.Dataset of (images, labels) or of images
        batches, total = [], 0
        for element in calibration:
            batch = element[0] if isinstance(element, (tuple, list)) else element
            batches.append(np.asarray(batch, dtype=np.float32))
            total += len(batches[-1])
            if total >= samples:
                break
        images = np.concatenate(batches)[:samples] if batches else np.zeros((0, *shape), np.float32)
    if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise ConversionError(f"calibration images have shape {images.shape[1:]}, the model expects {shape}")
    if len(images) == 0:
        raise ConversionError("calibration data is empty")
    return images


def _make_converter(tf: Any, model: Any, shape: tuple[int, ...], fast: bool) -> Any:
    if not fast:
        return tf.lite.TFLiteConverter.from_keras_model(model)
    signature = tf.TensorSpec((1, *shape), tf.float32, name="input")
    function = tf.function(lambda images: model(images, training=False))
    # No trackable object on purpose: that is what selects the fast frozen-graph path (see module doc).
    return tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function(signature)])


def _configure(tf: Any, converter: Any, fmt: str, images: np.ndarray | None) -> None:
    if fmt == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif fmt in ("int8", "qat_int8"):
        if images is not None:
            def representative() -> Iterator[list[np.ndarray]]:
                for image in images:
                    yield [image[None]]

            converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    # The converter logs a deprecation warning for the trackable-free path on every call.
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl_logger.setLevel(level)


# What the converter's C++ quantizer (tensorflow/compiler/mlir/lite/quantization/lite/quantize_model.cc)
# prints to file descriptor 2 on every quantized conversion: a settings echo, not a diagnostic.
_CONVERTER_NOISE = re.compile(r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \S+, "
                              r"output_inference_type: \S+$")


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Capture file descriptor 2 (C++ code writes there, past ``sys.stderr``) while the converter runs,
    then write back every captured line except :data:`_CONVERTER_NOISE`: real errors still show."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _CONVERTER_NOISE.match(line.strip()))
            if kept:
                os.write(2, kept.encode())


def _run_converter(tf: Any, model: Any, fmt: str, images: np.ndarray | None) -> tuple[bytes, str]:
    shape = _input_shape(model)
    errors = []
    for fast in (True, False):
        try:
            with _quiet_absl(), warnings.catch_warnings(), _filtered_stderr():
                warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
                converter = _make_converter(tf, model, shape, fast)
                _configure(tf, converter, fmt, images)
                return bytes(converter.convert()), "concrete_function" if fast else "keras_model"
        except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError ...
            errors.append(f"{'concrete function' if fast else 'from_keras_model'}: {exc}")
            logger.warning("TFLite %s conversion via %s failed: %s", fmt,
                           "concrete function" if fast else "from_keras_model", exc)
    raise ConversionError(f"{fmt} conversion failed; " + " | ".join(e[:500] for e in errors))


def quantization_aware_model(model: Any, qat: QATConfig) -> tuple[Any, dict[str, Any]]:
    """Wrap ``model`` with tfmot fake-quant layers and fine-tune it briefly on ``qat.dataset``.

    Annotation covers squeeze-excite and hard-swish, which ``quantize_model`` rejects (see
    :mod:`evaluators.qat`).
    """
    from evaluators.qat import quantize_for_training
    from search_spaces.keras_backend import keras

    q_model = quantize_for_training(model)
    q_model.compile(
        optimizer=keras.optimizers.Adam(qat.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = q_model.fit(qat.dataset.train, validation_data=qat.dataset.val, epochs=qat.epochs,
                          steps_per_epoch=qat.steps_per_epoch, verbose=0)
    details = {"qat_epochs": qat.epochs,
               "qat_keras_val_accuracy": float(history.history["val_accuracy"][-1])}
    return q_model, details


def convert(
    model: Any,
    fmt: str,
    *,
    calibration: Any = None,
    qat: QATConfig | None = None,
    calibration_samples: int = 100,
    seed: int = 0,
) -> ConversionResult:
    """Convert a Keras model to TFLite ``fmt`` (one of ``FORMATS``).

    ``calibration`` (int8 / qat_int8): a ``Dataset`` (training images), an array or ``tf.data``
    of normalized images, or ``"random"`` (uniform in [-1, 1]: enough for size and latency of an
    untrained model). ``qat`` is required for ``qat_int8``. Raises ``ConversionError``.
    """
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}; choose from {list(FORMATS)}")
    from search_spaces.keras_backend import tf

    start = time.perf_counter()
    details: dict[str, Any] = {}
    images = None
    if fmt in ("int8", "qat_int8"):
        if calibration is None and fmt == "int8":
            raise ConversionError("int8 needs calibration: a Dataset, an array of images, or 'random'")
        if calibration is not None:
            images = _calibration_images(calibration, _input_shape(model), calibration_samples, seed)
            details["calibration_samples"] = int(len(images))
    if fmt == "qat_int8":
        if qat is None:
            raise ConversionError("qat_int8 needs qat=QATConfig(dataset, epochs=...) for the fine-tune")
        model, qat_details = quantization_aware_model(model, qat)
        details.update(qat_details)
    tflite_bytes, path = _run_converter(tf, model, fmt, images)
    seconds = time.perf_counter() - start
    details["converter_path"] = path
    logger.info("converted to %s: %d bytes in %.2f s (%s)", fmt, len(tflite_bytes), seconds, path)
    return ConversionResult(fmt, tflite_bytes, len(tflite_bytes), seconds, details)


__all__ = ["FORMATS", "ConversionResult", "QATConfig", "convert", "quantization_aware_model"]
