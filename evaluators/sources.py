"""Raw image sources: every named dataset becomes uint8 NHWC arrays plus labels.

No TensorFlow here; ``evaluators.data`` turns these arrays into ``tf.data`` pipelines. File formats
read here are public facts: IDX (LeCun et al., the MNIST page; Fashion-MNIST, Xiao et al. 2017), the
pickled CIFAR batches (Krizhevsky 2009) in the layout the Keras loaders cache under
``~/.keras/datasets``.
"""

from __future__ import annotations

import gzip
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evaluators.errors import DatasetError

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = (
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
DEFAULT_IDX_DIRS = {
    "fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
    "mnist": Path("/usr/share/datasets/mnist"),
}
_KERAS_CACHE_NAMES = {
    "fashion-mnist": "fashion-mnist",
    "mnist": "mnist.npz",
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
}


@dataclass
class RawData:
    """Images as uint8 ``(N, H, W, C)`` and int labels; ``val_*`` / ``test_*`` are None unless predefined."""

    train_images: np.ndarray
    train_labels: np.ndarray
    class_names: tuple[str, ...]
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    val_images: np.ndarray | None = None
    val_labels: np.ndarray | None = None


def keras_cache_dir() -> Path:
    """The directory the Keras dataset loaders cache into (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load_digits() -> RawData:
    """scikit-learn's 8x8 handwritten digits (UCI optdigits): 1,797 images, offline."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return RawData(
        images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)),
        info={"source": "sklearn.datasets.load_digits"},
    )


def load_lfw_faces() -> RawData:
    """scikit-image's ``lfw_subset``: 100 face and 100 non-face 25x25 crops (a tiny person set)."""
    from skimage.data import lfw_subset

    images = np.round(lfw_subset() * 255.0).astype(np.uint8)[..., None]
    # The skimage docs: the first 100 images are faces, the last 100 are not.
    labels = np.array([1] * 100 + [0] * 100, dtype=np.int64)
    return RawData(images, labels, ("no_face", "face"), info={"source": "skimage.data.lfw_subset"})


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


def _find_idx(folder: Path, prefix: str, kind: str) -> Path | None:
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
            path = _find_idx(folder, prefix, kind)
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


def _load_mnist_npz(path: Path) -> RawData:
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


def load_mnist_like(name: str, data_dir: str | os.PathLike | None) -> RawData:
    """``mnist`` / ``fashion-mnist``: an IDX folder, else the Keras cache, else the Keras download."""
    class_names = FASHION_MNIST_CLASSES if name == "fashion-mnist" else tuple(str(d) for d in range(10))
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if path.is_file() and path.suffix == ".npz":
            return _load_mnist_npz(path)
        if not path.is_dir():
            raise DatasetError(f"{name}: data folder not found: {path}")
        if (path / "mnist.npz").is_file():
            return _load_mnist_npz(path / "mnist.npz")
        return load_idx_folder(path, class_names)
    candidates = [DEFAULT_IDX_DIRS[name], keras_cache_dir() / _KERAS_CACHE_NAMES[name]]
    for candidate in candidates:
        if candidate.is_file() and candidate.suffix == ".npz":
            return _load_mnist_npz(candidate)
        if candidate.is_dir() and _find_idx(candidate, "train", "images") is not None:
            return load_idx_folder(candidate, class_names)
    logger.info("%s not found in %s; trying the Keras loader (downloads once)", name, candidates)
    return _keras_download(name, class_names)


def _keras_download(name: str, class_names: tuple[str, ...]) -> RawData:
    from search_spaces.keras_backend import keras

    loaders = {
        "mnist": keras.datasets.mnist.load_data,
        "fashion-mnist": keras.datasets.fashion_mnist.load_data,
        "cifar10": keras.datasets.cifar10.load_data,
        "cifar100": keras.datasets.cifar100.load_data,
    }
    try:
        (x_train, y_train), (x_test, y_test) = loaders[name]()
    except Exception as exc:  # network errors come in many types (URLError, HTTPError, OSError)
        raise DatasetError(
            f"{name} is not cached locally and the Keras download failed ({exc}); put the files in "
            f"{keras_cache_dir()} or pass data_dir"
        ) from exc
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return RawData(
        x_train.astype(np.uint8), y_train.reshape(-1).astype(np.int64), class_names,
        x_test.astype(np.uint8), y_test.reshape(-1).astype(np.int64),
        info={"source": f"keras.datasets ({keras_cache_dir()})"},
    )


def _read_cifar_pickle(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
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


def load_cifar(name: str, data_dir: str | os.PathLike | None) -> RawData:
    """``cifar10`` / ``cifar100`` (fine labels) from the extracted Keras cache, else the Keras download.

    ``data_dir`` is the folder holding ``cifar-10-batches-py`` / ``cifar-100-python`` (or that folder
    itself); by default the Keras cache ``~/.keras/datasets``.
    """
    subdir = _KERAS_CACHE_NAMES[name]
    if data_dir is not None:
        base = Path(data_dir).expanduser()
        folder = base if base.name == subdir else base / subdir
        if not folder.is_dir():
            raise DatasetError(f"{name}: folder not found: {folder} (expected the extracted {subdir})")
    else:
        folder = keras_cache_dir() / subdir
        if not folder.is_dir():
            names = CIFAR10_CLASSES if name == "cifar10" else tuple(f"class_{i}" for i in range(100))
            return _keras_download(name, names)
    if name == "cifar10":
        batches = [_read_cifar_pickle(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
        x_train = np.concatenate([b[0] for b in batches])
        y_train = np.concatenate([b[1] for b in batches])
        x_test, y_test = _read_cifar_pickle(folder / "test_batch", "labels")
        class_names: tuple[str, ...] = CIFAR10_CLASSES
    else:
        x_train, y_train = _read_cifar_pickle(folder / "train", "fine_labels")
        x_test, y_test = _read_cifar_pickle(folder / "test", "fine_labels")
        class_names = _cifar100_names(folder / "meta")
    return RawData(x_train, y_train, class_names, x_test, y_test, info={"source": str(folder)})


def _cifar100_names(meta: Path) -> tuple[str, ...]:
    if meta.is_file():
        try:
            with open(meta, "rb") as handle:
                content = pickle.load(handle, encoding="bytes")
            names = content.get(b"fine_label_names") or content.get("fine_label_names")
            if names and len(names) == 100:
                return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
        except Exception as exc:  # names are cosmetic: fall back to numbers
            logger.warning("cannot read CIFAR-100 class names from %s: %s", meta, exc)
    return tuple(f"class_{i}" for i in range(100))
