"""The shared suite every dataset source runs, as Optuna's shared sampler tests do.

Each registered source has a :class:`Case` that writes a few small files in its format (or none, for
the sets bundled with scikit-learn / scikit-image); the same checks then run on every case: the raw
arrays, the pipelines at two channel counts, determinism, and errors for a missing or corrupt folder.
A source added to the registry without a case here fails :func:`test_every_source_has_a_case`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import DatasetConfig, DatasetError, load_dataset
from evaluators.datasets import DATASET_NAMES, FOLDER_PREFIX, SOURCES, DatasetSource, get_source, resolve

from . import files

REPO = Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class Case:
    """How to get a source's data into ``tmp_path``: ``write`` returns the ``data_dir`` (None: the
    source needs no files). ``config_name`` is the dataset name a config uses (default: the source's)."""

    source: str
    write: Callable[[Path], Path | None]
    num_classes: int
    config_name: Callable[[Path | None], str] | None = None

    @property
    def reads_files(self) -> bool:
        return self.write is not _bundled

    def config(self, data_dir: Path | None, **kwargs: Any) -> DatasetConfig:
        if self.config_name is not None:
            return DatasetConfig(name=self.config_name(data_dir), **kwargs)
        return DatasetConfig(name=self.source, data_dir=None if data_dir is None else str(data_dir), **kwargs)


def _bundled(tmp_path: Path) -> None:
    return None


CASES = {
    case.source if case.config_name is None else "folder:": case
    for case in (
        Case("digits", _bundled, 10),
        Case("lfw-faces", _bundled, 2),
        Case("fashion-mnist", lambda tmp: files.write_idx_folder(tmp / "fashion"), 10),
        Case("mnist", lambda tmp: files.write_idx_folder(tmp / "mnist", gz=False), 10),
        Case("cifar10", lambda tmp: files.write_cifar10(tmp / "cifar-10-batches-py").parent, 10),
        Case("cifar100", lambda tmp: files.write_cifar100(tmp / "cifar-100-python", n_train=400), 100),
        Case("image-folder", lambda tmp: files.write_image_folder(tmp / "images"), 2),
        Case("image-folder", lambda tmp: files.write_image_folder(tmp / "images"), 2,
             config_name=lambda data_dir: f"{FOLDER_PREFIX}{data_dir}"),
    )
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def test_every_source_has_a_case() -> None:
    assert {case.source for case in CASES.values()} == set(SOURCES)
    assert tuple(SOURCES) == DATASET_NAMES


def test_source_is_registered_under_its_name(case: Case, tmp_path: Path) -> None:
    source = get_source(case.source)
    assert isinstance(source, DatasetSource) and source.name == case.source and source.description
    assert source.channels in (1, 3, None)
    cfg = case.config(case.write(tmp_path))
    resolved, _ = resolve(cfg.name, cfg.data_dir)
    assert resolved is source


@pytest.mark.parametrize("channels", [1, 3])
def test_raw_arrays(case: Case, tmp_path: Path, channels: int) -> None:
    cfg = case.config(case.write(tmp_path))
    source, data_dir = resolve(cfg.name, cfg.data_dir)
    raw = source.load(data_dir, resolution=12, channels=channels)
    assert len(raw.class_names) == case.num_classes == len(set(raw.class_names))
    for images, labels in ((raw.train_images, raw.train_labels), (raw.val_images, raw.val_labels),
                           (raw.test_images, raw.test_labels)):
        if images is None:
            assert labels is None
            continue
        assert images.dtype == np.uint8 and images.ndim == 4 and len(images) == len(labels) > 0
        assert images.shape[-1] == (source.channels or channels)
        assert labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)
        assert 0 <= labels.min() and labels.max() < case.num_classes
    assert raw.info["source"]


@pytest.mark.parametrize("channels", [1, 3])
def test_pipelines_have_the_asked_shape_and_range(case: Case, tmp_path: Path, channels: int) -> None:
    cfg = case.config(case.write(tmp_path), val_fraction=0.25)
    ds = load_dataset(cfg, resolution=12, channels=channels, batch_size=64)
    assert ds.num_classes == case.num_classes == len(ds.class_names)
    assert (ds.resolution, ds.channels, ds.batch_size) == (12, channels, 64)
    counts = ds.info["counts"]
    assert counts["train"] > 0 and counts["val"] > 0 and sum(ds.info["train_class_counts"]) == counts["train"]
    for name in ("train", "val", "test"):
        split = getattr(ds, name)
        if split is None:
            assert name == "test" and name not in counts
            continue
        seen = 0
        for images, labels in split:
            assert images.shape[1:] == (12, 12, channels) and images.dtype.name == "float32"
            assert float(images.numpy().min()) >= -1.0 and float(images.numpy().max()) <= 1.0
            assert labels.dtype.name == "int32" and int(labels.numpy().max()) < case.num_classes
            seen += len(labels)
        assert seen == counts[name]
    assert len(ds.calibration_images(5)) == min(5, counts["train"])


def test_same_config_same_splits(case: Case, tmp_path: Path) -> None:
    cfg = case.config(case.write(tmp_path), seed=7)
    first, second = (load_dataset(cfg, resolution=10, channels=1, batch_size=1000) for _ in range(2))
    assert first.info["counts"] == second.info["counts"]
    for a, b in zip(first.val, second.val):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())


@pytest.mark.skip_ok_in_ci("bundled datasets read no folder; no component is missing")
def test_a_missing_folder_is_a_dataset_error(case: Case, tmp_path: Path) -> None:
    if not case.reads_files:
        pytest.skip(f"{case.source} is bundled with its library and reads no folder")
    with pytest.raises(DatasetError):
        load_dataset(case.config(tmp_path / "nowhere"), resolution=12, channels=1, batch_size=8)


@pytest.mark.skip_ok_in_ci("bundled datasets read no folder; no component is missing")
def test_corrupt_files_are_a_dataset_error(case: Case, tmp_path: Path) -> None:
    if not case.reads_files:
        pytest.skip(f"{case.source} is bundled with its library and reads no folder")
    data_dir = case.write(tmp_path)
    for path in data_dir.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[:3])
    with pytest.raises(DatasetError):
        load_dataset(case.config(data_dir), resolution=12, channels=1, batch_size=8)


def test_sources_import_no_tensorflow(tmp_path: Path) -> None:
    """Reading arrays is TensorFlow-free: only :func:`load_dataset` builds ``tf.data`` pipelines."""
    data_dir = files.write_image_folder(tmp_path / "images", per_class=2)
    code = (
        "import json, sys\n"
        "from evaluators.datasets import resolve\n"
        "shapes = []\n"
        f"for name, data_dir in (('digits', None), ('lfw-faces', None), ('{FOLDER_PREFIX}{data_dir}', None)):\n"
        "    source, folder = resolve(name, data_dir)\n"
        "    shapes.append(list(source.load(folder, resolution=8, channels=3).train_images.shape))\n"
        "print(json.dumps({'shapes': shapes, 'tf': 'tensorflow' in sys.modules}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                               timeout=120, check=True)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"shapes": [[1797, 8, 8, 1], [200, 25, 25, 1], [4, 8, 8, 3]], "tf": False}
