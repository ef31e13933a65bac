"""Metrics of a .tflite model through the interpreter, against scikit-learn's definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import MetricsError, convert, evaluate_tflite
from evaluators.metrics import classification_metrics, interpreter_class


def test_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=300)
    scores = rng.random((300, 7))
    scores[np.arange(150), labels[:150]] += 1.0  # half the rows predicted right
    got = classification_metrics(labels, scores, [str(i) for i in range(7)])
    precision, recall, f1, _ = precision_recall_fscore_support(labels, scores.argmax(1), average="macro",
                                                               zero_division=0)
    assert got["precision_macro"] == pytest.approx(precision)
    assert got["recall_macro"] == pytest.approx(recall)
    assert got["f1_macro"] == pytest.approx(f1)
    assert got["top5_accuracy"] == pytest.approx(top_k_accuracy_score(labels, scores, k=5))
    assert got["confusion_matrix"] == confusion_matrix(labels, scores.argmax(1)).tolist()
    few = classification_metrics(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), ["a", "b"])
    assert few["top5_accuracy"] is None and few["accuracy"] == pytest.approx(2 / 3)
    assert few["precision_macro"] == pytest.approx((0.5 + 1.0) / 2)
    with pytest.raises(MetricsError, match="outputs .* scores, but there are 3 classes"):
        classification_metrics(np.array([0]), np.array([[0.5, 0.5]]), ["a", "b", "c"])


def test_evaluate_from_a_file_and_from_arrays(conversions: dict[str, Any], digits: Any, tmp_path: Path) -> None:
    path = conversions["int8"].write(tmp_path / "m.tflite")
    from_split = evaluate_tflite(path, digits.val, digits.class_names)
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in digits.val))
    from_arrays = evaluate_tflite(conversions["int8"].tflite_bytes, (np.concatenate(images), np.concatenate(labels)),
                                  digits.class_names)
    assert from_split.accuracy == from_arrays.accuracy and from_split.batched
    assert from_split.top5_accuracy >= from_split.accuracy
    assert np.sum(from_split.confusion_matrix) == from_split.num_samples
    assert set(from_split.to_dict()) >= {"accuracy", "top5_accuracy", "f1_macro", "confusion_matrix"}


def test_model_with_a_frozen_batch_falls_back_to_one_image_at_a_time(digits: Any) -> None:
    from search_spaces.keras_backend import keras, tf

    inputs = keras.Input((16, 16, 1))
    flat = keras.layers.Lambda(lambda t: tf.reshape(t, [1, 256]))(inputs)  # batch frozen to 1
    outputs = keras.layers.Dense(10, activation="softmax")(flat)
    model = keras.Model(inputs, outputs)
    result = convert(model, "float32")
    metrics = evaluate_tflite(result.tflite_bytes, digits.val, digits.class_names)
    assert not metrics.batched and metrics.num_samples == digits.info["counts"]["val"]


def test_bad_inputs(conversions: dict[str, Any], digits: Any, tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="TFLite model not found"):
        evaluate_tflite(tmp_path / "absent.tflite", digits.val, digits.class_names)
    with pytest.raises(MetricsError, match="LiteRT cannot load"):
        evaluate_tflite(b"not a flatbuffer", digits.val, digits.class_names)
    wrong = (np.zeros((2, 8, 8, 1), np.float32), np.zeros(2, np.int64))
    with pytest.raises(MetricsError, match="the model expects"):
        evaluate_tflite(conversions["int8"].tflite_bytes, wrong, digits.class_names)


def test_interpreter_preference_is_ai_edge_litert() -> None:
    _, name, version = interpreter_class()
    assert name == "ai_edge_litert" and version


def test_a_model_xnnpack_refuses_is_scored_with_the_builtin_kernels(conversions: dict[str, Any], digits: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluators.metrics import TFLiteClassifier

    model = conversions["int8"].tflite_bytes
    reference = evaluate_tflite(model, digits.val, digits.class_names)
    real_load = TFLiteClassifier._load

    def xnnpack_refuses(interpreter_cls, source, num_threads, *, xnnpack):
        if xnnpack:
            raise RuntimeError("failed to create XNNPACK runtimeNode number 67 (TfLiteXNNPackDelegate) "
                               "failed to prepare.")
        return real_load(interpreter_cls, source, num_threads, xnnpack=xnnpack)

    monkeypatch.setattr(TFLiteClassifier, "_load", staticmethod(xnnpack_refuses))
    assert TFLiteClassifier(model).xnnpack is False
    fallback = evaluate_tflite(model, digits.val, digits.class_names)
    # LiteRT's built-in int8 kernels and XNNPACK round differently (ai-edge-litert 2.3: one image of
    # 306 flips), so the fallback's accuracy is the XNNPACK one within two images, not bit for bit.
    assert fallback.num_samples == reference.num_samples
    assert abs(fallback.accuracy - reference.accuracy) <= 2 / reference.num_samples

    def corrupt(interpreter_cls, source, num_threads, *, xnnpack):
        raise ValueError("Model provided has model identifier 'abcd', should be 'TFL3'")

    monkeypatch.setattr(TFLiteClassifier, "_load", staticmethod(corrupt))
    with pytest.raises(MetricsError, match="LiteRT cannot load the model"):
        TFLiteClassifier(model)


def test_a_batched_split_is_read_ahead_in_chunks_and_keeps_its_order(monkeypatch):
    from evaluators import metrics

    events = []

    def split():
        for i in range(5):
            events.append(("read", i))
            yield np.full((2, 4, 4, 1), i, dtype=np.float32), np.array([i, i])

    batch_bytes = 2 * 4 * 4 * 4
    monkeypatch.setattr(metrics, "_CHUNK_BYTES", 2 * batch_bytes)
    for images, labels in metrics._iterate(split()):
        events.append(("use", int(labels[0])))
        assert images.dtype == np.float32 and images[0, 0, 0, 0] == labels[0]
    assert events == [("read", 0), ("read", 1), ("use", 0), ("use", 1), ("read", 2), ("read", 3), ("use", 2),
                      ("use", 3), ("read", 4), ("use", 4)]
