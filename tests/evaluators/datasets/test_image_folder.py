"""Image folders: one subfolder per class, corrupt files skipped, train/val(/test) kept, messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset

from .files import write_images


def _all(split: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in split))
    return np.concatenate(images), np.concatenate(labels)


def test_image_folder_reads_classes_and_skips_corrupt_files(tmp_path: Path) -> None:
    write_images(tmp_path / "person", 10, 230)
    write_images(tmp_path / "no_person", 10, 20)
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
        write_images(tmp_path / split / "person", n, 200)
        write_images(tmp_path / split / "no_person", n, 30)
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
        write_images(root / "person", 2, 200)
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
