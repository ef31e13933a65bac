"""MNIST and Fashion-MNIST: IDX folders, the Keras ``mnist.npz`` cache, the Debian folder, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset
from evaluators.datasets import get_source

from .files import write_idx_folder, write_mnist_npz


def _all(split: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in split))
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loader(tmp_path: Path, gz: bool) -> None:
    write_idx_folder(tmp_path / "fm", gz=gz)
    cfg = DatasetConfig(name="fashion-mnist", data_dir=str(tmp_path / "fm"), val_fraction=0.25)
    ds = load_dataset(cfg, resolution=28, channels=1, batch_size=8)
    assert ds.class_names[0] == "t-shirt/top" and ds.num_classes == 10
    assert ds.info["counts"] == {"test": 20, "val": 10, "train": 30}
    images, labels = _all(ds.test)
    np.testing.assert_allclose((images[:, 0, 0, 0] + 1) * 127.5, labels * 20, atol=1e-3)


def test_idx_errors(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="no t10k-labels-idx"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "m")), resolution=28, channels=1,
                     batch_size=8)
    write_idx_folder(tmp_path / "t", gz=False)
    data = (tmp_path / "t" / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "t" / "train-images-idx3-ubyte").write_bytes(data[:-7])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "t")), resolution=28, channels=1,
                     batch_size=8)
    with pytest.raises(DatasetError, match="data folder not found"):
        load_dataset(DatasetConfig(name="mnist", data_dir=str(tmp_path / "nowhere")), resolution=28,
                     channels=1, batch_size=8)


def _no_default_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("mnist", "fashion-mnist"):
        monkeypatch.setattr(get_source(name), "default_dir", tmp_path / "absent")


def test_mnist_from_keras_npz_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _no_default_dirs(monkeypatch, tmp_path)
    ds = load_dataset(DatasetConfig(name="mnist", val_fraction=0.2), resolution=14, channels=1, batch_size=8)
    assert ds.info["counts"] == {"test": 10, "val": 10, "train": 20}  # 1 of 3 per class
    assert ds.info["source"].endswith("mnist.npz")


def test_fashion_mnist_from_the_debian_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's dataset-fashion-mnist puts the IDX files in /usr/share/datasets/fashion-mnist."""
    source = get_source("fashion-mnist")
    assert source.default_dir == Path("/usr/share/datasets/fashion-mnist")
    monkeypatch.setattr(source, "default_dir", write_idx_folder(tmp_path / "debian" / "fashion-mnist"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    ds = load_dataset(DatasetConfig(name="fashion-mnist"), resolution=28, channels=1, batch_size=8)
    assert ds.info["source"] == str(tmp_path / "debian" / "fashion-mnist")
    assert ds.class_names[-1] == "ankle boot"


def test_closed_test_split_of_an_idx_folder(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "fm")
    cfg = DatasetConfig(name="fashion-mnist", data_dir=str(tmp_path / "fm"), val_fraction=0.25)
    ds = load_dataset(cfg, resolution=28, channels=1, batch_size=8, with_test=False)
    assert ds.test is None and ds.info["counts"] == {"val": 10, "train": 30}
