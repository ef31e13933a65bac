"""IDX files (LeCun et al., the MNIST page) and the base of the sources stored in them.

An IDX file is a magic number (two zero bytes, the element type, the number of dimensions), the
dimensions as big-endian 32-bit integers, then the data. MNIST and Fashion-MNIST (Xiao et al. 2017)
ship as four of them: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-...``
and ``t10k-labels-...``, gzipped or not. The Keras cache keeps MNIST as ``mnist.npz`` instead.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import ClassVar

import numpy as np

from evaluators.datasets._base import DatasetSource, RawData
from evaluators.datasets._keras_cache import keras_cache_dir, keras_download
from evaluators.errors import DatasetError

logger = logging.getLogger(__name__)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) of unsigned bytes into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            payload = handle.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc}") from exc
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    if payload[2] != 0x08:
        raise DatasetError(f"{path}: only unsigned-byte IDX data (type 0x08) is supported, got {payload[2]:#04x}")
    ndim = payload[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(payload[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) if shape else 0
    if len(payload) - header != expected:
        raise DatasetError(
            f"{path}: header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(payload) - header} bytes of data (truncated or corrupt)"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, prefix: str, kind: str) -> Path | None:
    """``<prefix>-<kind>-idx?-ubyte`` (or ``.idx?-ubyte``), gzipped or not, in ``folder``."""
    for pattern in (f"{prefix}-{kind}-idx?-ubyte", f"{prefix}-{kind}.idx?-ubyte"):
        for suffix in ("", ".gz"):
            hits = sorted(folder.glob(pattern + suffix))
            if hits:
                return hits[0]
    return None


def load_idx_folder(folder: Path, class_names: tuple[str, ...]) -> RawData:
    """MNIST-style IDX files: ``train-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` ..."""
    parts = {}
    for prefix in ("train", "t10k"):
        for kind in ("images", "labels"):
            path = find_idx(folder, prefix, kind)
            if path is None:
                raise DatasetError(
                    f"no {prefix}-{kind}-idx*-ubyte[.gz] file in {folder}; an IDX folder needs "
                    "train-images, train-labels, t10k-images and t10k-labels"
                )
            parts[prefix, kind] = read_idx(path)
    for prefix in ("train", "t10k"):
        images, labels = parts[prefix, "images"], parts[prefix, "labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(
                f"{folder}: {prefix} images {images.shape} and labels {labels.shape} do not match"
            )
    num_classes = int(max(parts["train", "labels"].max(), parts["t10k", "labels"].max())) + 1
    names = class_names if num_classes <= len(class_names) else tuple(str(i) for i in range(num_classes))
    return RawData(
        parts["train", "images"][..., None], parts["train", "labels"].astype(np.int64),
        names,
        parts["t10k", "images"][..., None], parts["t10k", "labels"].astype(np.int64),
        info={"source": str(folder)},
    )


def load_mnist_npz(path: Path) -> RawData:
    """The Keras cache's ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"cannot read {path} as the Keras mnist.npz cache: {exc}") from exc
    return RawData(
        arrays["x_train"].astype(np.uint8)[..., None], arrays["y_train"].astype(np.int64),
        tuple(str(d) for d in range(10)),
        arrays["x_test"].astype(np.uint8)[..., None], arrays["y_test"].astype(np.int64),
        info={"source": str(path)},
    )


class IdxSource(DatasetSource):
    """A 28x28 grey source stored as IDX files: ``data_dir`` (an IDX folder or ``mnist.npz``), else
    ``default_dir`` (a distribution package's folder), else the Keras cache, else the Keras download."""

    channels = 1
    class_names: ClassVar[tuple[str, ...]]
    default_dir: Path
    keras_cache_name: ClassVar[str]

    def load(self, data_dir: Path | None, *, resolution: int, channels: int) -> RawData:
        if data_dir is not None:
            path = Path(data_dir).expanduser()
            if path.is_file() and path.suffix == ".npz":
                return load_mnist_npz(path)
            if not path.is_dir():
                raise DatasetError(f"{self.name}: data folder not found: {path}")
            if (path / "mnist.npz").is_file():
                return load_mnist_npz(path / "mnist.npz")
            return load_idx_folder(path, self.class_names)
        candidates = [self.default_dir, keras_cache_dir() / self.keras_cache_name]
        for candidate in candidates:
            if candidate.is_file() and candidate.suffix == ".npz":
                return load_mnist_npz(candidate)
            if candidate.is_dir() and find_idx(candidate, "train", "images") is not None:
                return load_idx_folder(candidate, self.class_names)
        logger.info("%s not found in %s; trying the Keras loader (downloads once)", self.name, candidates)
        return keras_download(self.name, self.class_names)
