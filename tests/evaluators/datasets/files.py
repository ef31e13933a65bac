"""Small dataset files written by the tests, in each source's own format (no network, no cache)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file: magic 0x0000 0x08 ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)
    return path


def write_idx_folder(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> Path:
    """MNIST's four IDX files; pixel (0, 0) carries ``label * 20`` so tests can check the pairing."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        images[:, 0, 0] = labels * 20
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8), gz=gz)
    return folder


def write_mnist_npz(path: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """The Keras cache's ``mnist.npz``."""
    rng = np.random.default_rng(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), y_train=np.arange(n_train) % 10,
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), y_test=np.arange(n_test) % 10)
    return path


def _pickle(path: Path, content: dict) -> None:
    with open(path, "wb") as handle:
        pickle.dump(content, handle)


def write_cifar10(folder: Path, per_batch: int = 10) -> Path:
    """``cifar-10-batches-py``: five training batches and a test batch of ``per_batch`` images each."""
    rng = np.random.default_rng(2)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _pickle(folder / name, {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                                b"labels": [i % 10 for i in range(per_batch)]})
    return folder


def write_cifar100(folder: Path, n_train: int = 200, n_test: int = 100) -> Path:
    """``cifar-100-python``: ``train``, ``test`` (fine labels) and ``meta`` with the class names."""
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        _pickle(folder / name, {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                b"fine_labels": [i % 100 for i in range(n)]})
    _pickle(folder / "meta", {b"fine_label_names": [f"thing{i}".encode() for i in range(100)]})
    return folder


def write_images(folder: Path, count: int, color: int, size: tuple[int, int] = (20, 12)) -> Path:
    """``count`` flat-coloured images (alternately PNG and JPEG), pixel (0, 0) set to the index."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.full((size[1], size[0], 3), color, dtype=np.uint8)
        pixels[0, 0] = i
        Image.fromarray(pixels).save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")
    return folder


def write_image_folder(root: Path, per_class: int = 8) -> Path:
    """``root/no_person/`` (dark) and ``root/person/`` (bright)."""
    write_images(root / "person", per_class, 230)
    write_images(root / "no_person", per_class, 20)
    return root
