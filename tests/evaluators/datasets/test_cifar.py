"""CIFAR-10 and CIFAR-100 from the extracted python batches (the Keras cache layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset

from .files import write_cifar10, write_cifar100


def test_cifar10_and_cifar100_from_a_small_fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c10 = write_cifar10(tmp_path / "datasets" / "cifar-10-batches-py")
    write_cifar100(tmp_path / "datasets" / "cifar-100-python")
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


def test_cifar100_without_meta_numbers_its_classes(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path / "cifar-100-python", n_train=400)
    (folder / "meta").unlink()
    ds = load_dataset(DatasetConfig(name="cifar100", data_dir=str(folder)), resolution=8, channels=3, batch_size=64)
    assert ds.class_names[:2] == ("class_0", "class_1")


def test_a_missing_batch_is_named(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path / "cifar-10-batches-py")
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetError, match="CIFAR batch file missing: .*test_batch"):
        load_dataset(DatasetConfig(name="cifar10", data_dir=str(folder)), resolution=32, channels=3, batch_size=8)
