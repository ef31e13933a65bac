"""Proxy training: schedule, divergence reported (not raised), transfer learning from a weights file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import TrainConfig, build_mobilenet_v2_transfer, train_model, train_transfer
from evaluators.training import make_optimizer, make_schedule, set_bn_momentum

from .conftest import tiny_keras_model


def test_short_training_learns_and_reports(trained: Any) -> None:
    _, result = trained
    assert not result.diverged and result.divergence_reason is None
    assert result.epochs_completed == 8 and len(result.history["loss"]) == 8
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.val_accuracy > 0.8 and result.seconds > 0


def test_train_step_is_traced_once(trained: Any) -> None:
    # The optimizer's variables exist before the first step, so fit traces its train step once, not
    # twice (a tf.function that creates variables on its first call is traced again); issue 14.
    model, _ = trained
    assert model.train_function.experimental_get_tracing_count() == 1
    assert len(model.optimizer.variables) == 1 + 2 * len(model.trainable_variables)  # iterations + Adam m, v


def test_each_epoch_is_logged_at_debug_level(digits: Any, caplog: pytest.LogCaptureFixture) -> None:
    from search_spaces.keras_backend import keras

    keras.utils.set_random_seed(0)
    with caplog.at_level("DEBUG", logger="evaluators.training"):
        train_model(tiny_keras_model(), digits, TrainConfig(epochs=2, warmup_epochs=0, seed=0))
    lines = [r.getMessage() for r in caplog.records if r.name == "evaluators.training" and r.levelname == "DEBUG"]
    assert [line.split(" done")[0] for line in lines] == ["epoch 1 of 2", "epoch 2 of 2"]
    assert all(" s, loss " in line for line in lines)


def test_warmup_then_cosine_schedule() -> None:
    cfg = TrainConfig(epochs=4, lr=0.1, warmup_epochs=1, min_lr_fraction=0.0)
    schedule = make_schedule(cfg, 10, 4)
    lrs = [float(schedule(step)) for step in (0, 5, 10, 25, 40)]
    assert lrs[0] == pytest.approx(0.0) and lrs[1] == pytest.approx(0.05)
    assert lrs[2] == pytest.approx(0.1) and lrs[3] == pytest.approx(0.05, rel=1e-3)
    assert lrs[4] == pytest.approx(0.0, abs=1e-6)
    assert make_optimizer(TrainConfig(optimizer="sgd"), 10, 4).nesterov


def test_divergence_is_reported_not_raised(digits: Any) -> None:
    from search_spaces.keras_backend import keras, tf

    # sqrt of the negative half of [-1, 1] pixels: NaN from the first batch, like a blown-up run.
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Lambda(lambda t: tf.sqrt(t))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    result = train_model(model, digits, TrainConfig(epochs=3, warmup_epochs=0))
    assert result.diverged and result.divergence_reason.startswith("loss became nan at epoch 1, batch 1")
    assert result.epochs_completed == 1 and result.val_accuracy is None


def test_bn_momentum_override_and_config_validation() -> None:
    from search_spaces.keras_backend import keras

    model = tiny_keras_model()
    assert set_bn_momentum(model, 0.5) == 3
    assert all(layer.momentum == 0.5 for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.0)


def test_transfer_learning_from_a_local_weights_file(tmp_path: Path, digits: Any) -> None:
    from evaluators import DatasetConfig, load_dataset
    from search_spaces.keras_backend import keras

    source = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False,
                                            weights=None, pooling="avg")
    weights = tmp_path / "mobilenet_v2_0.35_no_top.h5"
    source.save_weights(weights)
    model = build_mobilenet_v2_transfer(weights, num_classes=10, resolution=32, alpha=0.35)
    backbone = model.layers[1]
    np.testing.assert_array_equal(backbone.get_weights()[0], source.get_weights()[0])
    data = load_dataset(DatasetConfig(fraction=0.1), resolution=32, channels=3, batch_size=32)
    first_kernel = backbone.get_weights()[0].copy()
    result = train_transfer(model, data, TrainConfig(epochs=1, lr=1e-3), head_epochs=1)
    assert not result.diverged and result.epochs_completed == 2
    assert "head_loss" in result.history and "fine_tune_loss" in result.history
    assert not np.array_equal(backbone.get_weights()[0], first_kernel)  # fine-tuned after the frozen phase
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        build_mobilenet_v2_transfer(tmp_path / "absent.h5", num_classes=2, resolution=32)
