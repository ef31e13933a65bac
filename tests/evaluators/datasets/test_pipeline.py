"""The pipeline every source shares: splits, normalization, fraction, augmentation, config errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset
from evaluators.datasets import stratified_split


def _all(split: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in split))
    return np.concatenate(images), np.concatenate(labels)


def test_digits_default_splits_normalization_and_shapes(digits: Any) -> None:
    assert DatasetConfig().name == "digits"
    assert digits.num_classes == 10 and digits.class_names[0] == "0"
    counts = digits.info["counts"]
    assert counts["train"] + counts["val"] + counts["test"] == 1797
    images, labels = _all(digits.val)
    assert images.shape[1:] == (16, 16, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.min() < -0.9 and images.max() > 0.9
    assert labels.dtype == np.int32 and len(labels) == counts["val"]
    # Stratified: every class in the validation split, in near-equal shares.
    assert np.bincount(labels, minlength=10).min() >= 25


def test_same_seed_same_split_and_fraction_is_stratified() -> None:
    cfg = DatasetConfig(fraction=0.25, seed=3)
    first = load_dataset(cfg, resolution=8, channels=3, batch_size=512)
    second = load_dataset(cfg, resolution=8, channels=3, batch_size=512)
    x1, y1 = _all(first.val)
    x2, y2 = _all(second.val)
    np.testing.assert_array_equal(x1, x2)
    assert x1.shape[1:] == (8, 8, 3)
    train_counts = first.info["train_class_counts"]
    assert sum(train_counts) == first.info["counts"]["train"] < 0.3 * 1797 and min(train_counts) > 0


def test_the_autotuner_is_off_and_changes_no_batch() -> None:
    """Off because deleting an iterator waited for it (seconds per epoch); the batches are the same either way."""
    from search_spaces.keras_backend import tf

    def load() -> Any:
        return load_dataset(DatasetConfig(fraction=0.5), resolution=16, channels=1, batch_size=64)

    ours, tuned = load(), load()
    splits = (ours.train, ours.val, ours.test, ours.train_plain)
    assert all(split.options().autotune.enabled is False for split in splits)
    options = tf.data.Options()
    options.autotune.enabled = True
    tuned_train = tuned.train.with_options(options)
    assert tuned_train.options().autotune.enabled is True
    for _ in range(2):  # two epochs: the reshuffle goes on alike
        for a, b in zip(_all(ours.train), _all(tuned_train)):
            np.testing.assert_array_equal(a, b)


def test_stratified_split_keeps_every_class() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1)
    keep, held = stratified_split(labels, 0.5, seed=0)
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(14))
    assert set(labels[keep]) == {0, 1, 2}


def test_lfw_faces_two_classes() -> None:
    ds = load_dataset(DatasetConfig(name="lfw-faces"), resolution=16, channels=1, batch_size=32)
    assert ds.class_names == ("no_face", "face") and ds.num_classes == 2
    assert sum(ds.info["counts"].values()) == 200


def test_augmentation_applies_to_train_only() -> None:
    cfg = DatasetConfig(augmentation=["flip", "crop", "brightness"], fraction=0.2)
    ds = load_dataset(cfg, resolution=16, channels=1, batch_size=16)
    images, _ = next(iter(ds.train))
    assert images.shape[1:] == (16, 16, 1) and float(np.abs(images).max()) <= 1.0
    with pytest.raises(DatasetError, match="unknown augmentation"):
        DatasetConfig(augmentation=("rotate",))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "imagenet"}, "unknown dataset 'imagenet'"),
        ({"fraction": 0.0}, "fraction must be in"),
        ({"val_fraction": 1.0}, "val_fraction must be in"),
        ({"name": "image-folder"}, "needs data_dir"),
    ],
)
def test_bad_config_is_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        DatasetConfig(**kwargs)


def test_bad_resolution_channels_or_batch(digits: Any) -> None:
    with pytest.raises(DatasetError, match="need resolution >= 8, channels 1 or 3"):
        load_dataset(DatasetConfig(), resolution=4, channels=1, batch_size=8)
    with pytest.raises(DatasetError, match="need resolution >= 8, channels 1 or 3"):
        load_dataset(DatasetConfig(), resolution=8, channels=2, batch_size=8)


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)


def test_closed_test_split_leaves_train_and_val_unchanged() -> None:
    """A search loads the data with the test split closed; a carved test split still leaves train."""
    cfg = DatasetConfig(fraction=0.5, seed=1)
    opened = load_dataset(cfg, resolution=8, channels=1, batch_size=512)
    closed = load_dataset(cfg, resolution=8, channels=1, batch_size=512, with_test=False)
    assert opened.test is not None and closed.test is None
    assert "test" not in closed.info["counts"] and closed.info["test_split"] == "closed"
    assert opened.info["test_split"] == "open"
    for split in ("train_plain", "val"):
        for a, b in zip(_all(getattr(opened, split)), _all(getattr(closed, split))):
            np.testing.assert_array_equal(a, b)


def test_training_evaluator_opens_the_test_split_only_when_asked() -> None:
    from evaluators import TrainingEvaluator

    assert TrainingEvaluator(measure_latency=False).dataset(8, 1).test is None
    assert TrainingEvaluator(measure_latency=False, with_test=True).dataset(8, 1).test is not None
