"""``mnist``: LeCun, Cortes & Burges' handwritten digits, 60,000 + 10,000 grey 28x28 images (IDX)."""

from __future__ import annotations

from pathlib import Path

from evaluators.datasets.idx import IdxSource


class MnistSource(IdxSource):
    """MNIST from ``data_dir``, Debian's ``dataset-mnist`` folder, or the Keras cache ``mnist.npz``."""

    name = "mnist"
    description = "MNIST handwritten digits (IDX files or the Keras cache)"
    class_names = tuple(str(d) for d in range(10))
    default_dir = Path("/usr/share/datasets/mnist")
    keras_cache_name = "mnist.npz"
