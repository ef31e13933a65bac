"""``cifar10`` / ``cifar100``: Krizhevsky's tiny images (2009), 50,000 + 10,000 colour 32x32 images.

Read from the pickled batches of the "python version", in the layout the Keras loaders extract
under ``~/.keras/datasets`` (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``;
``cifar-100-python/train``, ``test``, ``meta``); CIFAR-100 uses its 100 fine labels.
"""

from __future__ import annotations

import abc
import logging
import pickle
from pathlib import Path

import numpy as np

from evaluators.datasets._base import DatasetSource, RawData
from evaluators.datasets._keras_cache import keras_cache_dir, keras_download
from evaluators.errors import DatasetError

logger = logging.getLogger(__name__)

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


def read_cifar_pickle(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch as uint8 NHWC images and int labels (``labels`` or ``fine_labels``)."""
    if not path.is_file():
        raise DatasetError(f"CIFAR batch file missing: {path}")
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except Exception as exc:  # a corrupt pickle raises many kinds of error
        raise DatasetError(f"cannot read CIFAR batch {path}: {exc}") from exc
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise DatasetError(f"{path} has no 'data' / '{label_key}' entries; not a CIFAR batch")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DatasetError(f"{path}: data {data.shape} / labels {labels.shape} are not CIFAR-shaped")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


class _CifarSource(DatasetSource):
    """``data_dir`` is the folder holding the extracted batches (or its parent); by default the
    Keras cache, else the Keras download."""

    channels = 3
    cache_name: str

    @abc.abstractmethod
    def default_class_names(self) -> tuple[str, ...]:
        """Class names when the Keras download supplies the data."""

    @abc.abstractmethod
    def read(self, folder: Path) -> RawData:
        """The extracted batches in ``folder``."""

    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        if data_dir is not None:
            base = Path(data_dir).expanduser()
            folder = base if base.name == self.cache_name else base / self.cache_name
            if not folder.is_dir():
                raise DatasetError(
                    f"{self.name}: folder not found: {folder} (expected the extracted {self.cache_name})")
        else:
            folder = keras_cache_dir() / self.cache_name
            if not folder.is_dir():
                return keras_download(self.name, self.default_class_names())
        return self.read(folder)


class Cifar10Source(_CifarSource):
    """CIFAR-10: ten classes, five training batches and one test batch."""

    name = "cifar10"
    description = "CIFAR-10 (the Keras cache or the extracted python batches)"
    cache_name = "cifar-10-batches-py"

    def default_class_names(self) -> tuple[str, ...]:
        return CIFAR10_CLASSES

    def read(self, folder: Path) -> RawData:
        batches = [read_cifar_pickle(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
        x_test, y_test = read_cifar_pickle(folder / "test_batch", "labels")
        return RawData(np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]),
                       CIFAR10_CLASSES, x_test, y_test, info={"source": str(folder)})


class Cifar100Source(_CifarSource):
    """CIFAR-100 with its 100 fine labels; class names from ``meta`` when it is readable."""

    name = "cifar100"
    description = "CIFAR-100, fine labels (the Keras cache or the extracted python batches)"
    cache_name = "cifar-100-python"

    def default_class_names(self) -> tuple[str, ...]:
        return tuple(f"class_{i}" for i in range(100))

    def read(self, folder: Path) -> RawData:
        x_train, y_train = read_cifar_pickle(folder / "train", "fine_labels")
        x_test, y_test = read_cifar_pickle(folder / "test", "fine_labels")
        return RawData(x_train, y_train, self._class_names(folder / "meta"), x_test, y_test,
                       info={"source": str(folder)})

    def _class_names(self, meta: Path) -> tuple[str, ...]:
        if meta.is_file():
            try:
                with open(meta, "rb") as handle:
                    content = pickle.load(handle, encoding="bytes")
                names = content.get(b"fine_label_names") or content.get("fine_label_names")
                if names and len(names) == 100:
                    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
            except Exception as exc:  # names are cosmetic: fall back to numbers
                logger.warning("cannot read CIFAR-100 class names from %s: %s", meta, exc)
        return self.default_class_names()
