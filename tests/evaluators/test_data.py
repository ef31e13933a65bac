"""Datasets: digits, lfw-faces, IDX, the Keras caches, image folders and their error messages."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset
from evaluators.data import stratified_split

from .conftest import write_idx


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


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)


# -- IDX and Keras caches ----------------------------------------------------------------------

def _write_idx_folder(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        images[:, 0, 0] = labels * 20  # a pixel that carries the label, to check the pairing
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8), gz=gz)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loader(tmp_path: Path, gz: bool) -> None:
    _write_idx_folder(tmp_path / "fm", gz=gz)
    cfg = DatasetConfig(name="fashion-mnist", data_dir=str(tmp_path / "fm"), val_fraction=0.25)
    ds = load_dataset(cfg, resolution=28, channels=1, batch_size=8)
    assert ds.class_names[0] == "t-shirt/top" and ds.num_classes == 10
    assert ds.info["counts"] == {"test": 20, "val": 10, "train": 30}
    images, labels = _all(ds.test)
    np.testing.assert_allclose((images[:, 0, 0, 0] + 1) * 127.5, labels * 20, atol=1e-3)


def test_idx_errors(tmp_path: Path) -> None:
    _write_idx_folder(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="no t10k-labels-idx"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "m")), resolution=28, channels=1,
                     batch_size=8)
    (tmp_path / "t").mkdir()
    _write_idx_folder(tmp_path / "t", gz=False)
    data = (tmp_path / "t" / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "t" / "train-images-idx3-ubyte").write_bytes(data[:-7])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "t")), resolution=28, channels=1,
                     batch_size=8)
    with pytest.raises(DatasetError, match="data folder not found"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "nowhere")), resolution=28,
                     channels=1, batch_size=8)


def test_mnist_from_keras_npz_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(1)
    np.savez(cache / "mnist.npz", x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
             y_train=np.arange(30) % 10, x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
             y_test=np.arange(10))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr("evaluators.sources.DEFAULT_IDX_DIRS", {"mnist": tmp_path / "absent",
                                                                 "fashion-mnist": tmp_path / "absent"})
    ds = load_dataset(DatasetConfig(name="mnist", val_fraction=0.2), resolution=14, channels=1, batch_size=8)
    assert ds.info["counts"] == {"test": 10, "val": 10, "train": 20}  # 1 of 3 per class
    assert ds.info["source"].endswith("mnist.npz")


def _pickle(path: Path, content: dict) -> None:
    with open(path, "wb") as handle:
        pickle.dump(content, handle)


def test_cifar10_and_cifar100_from_a_small_fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    c10 = tmp_path / "datasets" / "cifar-10-batches-py"
    c10.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _pickle(c10 / name, {b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8),
                             b"labels": list(range(10))})
    c100 = tmp_path / "datasets" / "cifar-100-python"
    c100.mkdir()
    for name, n in (("train", 200), ("test", 100)):
        _pickle(c100 / name, {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                              b"fine_labels": [i % 100 for i in range(n)]})
    _pickle(c100 / "meta", {b"fine_label_names": [f"thing{i}".encode() for i in range(100)]})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    ds10 = load_dataset(DatasetConfig(name="cifar10"), resolution=32, channels=3, batch_size=16)
    assert ds10.class_names[0] == "airplane" and ds10.info["counts"] == {"test": 10, "val": 10, "train": 40}
    ds100 = load_dataset(DatasetConfig(name="cifar100", data_dir=str(tmp_path / "datasets"), val_fraction=0.5),
                         resolution=16, channels=1, batch_size=16)
    assert ds100.num_classes == 100 and ds100.class_names[99] == "thing99"
    assert next(iter(ds100.val))[0].shape[1:] == (16, 16, 1)
    (c10 / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="cannot read CIFAR batch"):
        load_dataset(DatasetConfig(name="cifar10"), resolution=32, channels=3, batch_size=16)


# -- image folders -----------------------------------------------------------------------------

def _write_images(folder: Path, count: int, color: int, size: tuple[int, int] = (20, 12)) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.full((size[1], size[0], 3), color, dtype=np.uint8)
        pixels[0, 0] = i
        Image.fromarray(pixels).save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_reads_classes_and_skips_corrupt_files(tmp_path: Path) -> None:
    _write_images(tmp_path / "person", 10, 230)
    _write_images(tmp_path / "no_person", 10, 20)
    (tmp_path / "person" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "person" / "notes.txt").write_text("not an image")
    ds = load_dataset(DatasetConfig(name=f"folder:{tmp_path}", val_fraction=0.2, test_fraction=0.0),
                      resolution=16, channels=3, batch_size=4)
    assert ds.class_names == ("no_person", "person")
    assert ds.info["num_skipped"] == 1 and ds.info["skipped_files"][0].endswith("broken.png")
    assert ds.info["num_ignored_non_image_files"] == 1
    assert ds.info["counts"] == {"val": 4, "train": 16} and ds.test is None
    images, labels = _all(ds.val)
    assert images.shape[1:] == (16, 16, 3)
    bright = images.mean(axis=(1, 2, 3)) > 0
    np.testing.assert_array_equal(bright, labels == 1)
    same = load_dataset(DatasetConfig(name="image-folder", data_dir=str(tmp_path), test_fraction=0.0),
                        resolution=8, channels=1, batch_size=4)
    assert same.class_names == ds.class_names


def test_image_folder_with_train_and_val_splits(tmp_path: Path) -> None:
    for split, n in (("train", 6), ("val", 3)):
        _write_images(tmp_path / split / "person", n, 200)
        _write_images(tmp_path / split / "no_person", n, 30)
    ds = load_dataset(DatasetConfig(name=f"folder:{tmp_path}"), resolution=8, channels=1, batch_size=4)
    assert ds.class_names == ("no_person", "person")
    assert ds.info["counts"] == {"val": 6, "train": 12} and ds.info["predefined_splits"] == ["train", "val"]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "image folder not found"),
        ("file", "is not a directory"),
        ("one_class", r"has 1 class subfolder\(s\) \(person\); need at least two"),
        ("no_class", r"has 0 class subfolder\(s\) \(none\)"),
        ("empty_class", "class folder 'no_person' .* has no readable images \\(no image files"),
        ("corrupt_class", "class folder 'no_person' .* has no readable images \\(2 unreadable or corrupt"),
    ],
)
def test_image_folder_bad_input_messages(tmp_path: Path, layout: str, message: str) -> None:
    root = tmp_path / "data"
    if layout == "file":
        root.write_text("x")
    elif layout != "missing":
        _write_images(root / "person", 2, 200)
        if layout == "no_class":
            (root / "person").rename(tmp_path / "elsewhere")
            (root / "loose.png").write_bytes(b"")
        elif layout == "empty_class":
            (root / "no_person").mkdir()
        elif layout == "corrupt_class":
            (root / "no_person").mkdir()
            (root / "no_person" / "a.jpg").write_bytes(b"garbage")
            (root / "no_person" / "b.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=message):
        load_dataset(DatasetConfig(name=f"folder:{root}"), resolution=8, channels=3, batch_size=2)
