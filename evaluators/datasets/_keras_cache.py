"""The Keras dataset cache (``~/.keras/datasets``) and the Keras loaders as a last resort.

The MNIST-like and CIFAR sources read the cache themselves (no TensorFlow); only when nothing is
cached do they call ``keras.datasets.<name>.load_data``, which downloads once.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from evaluators.datasets._base import RawData
from evaluators.errors import DatasetError


def keras_cache_dir() -> Path:
    """The directory the Keras dataset loaders cache into (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def keras_download(name: str, class_names: tuple[str, ...]) -> RawData:
    """``keras.datasets.<name>.load_data()`` (``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``)."""
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
