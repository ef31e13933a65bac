"""``fashion-mnist``: Zalando's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), MNIST's layout for clothes.

Debian ships it as the package ``dataset-fashion-mnist`` (IDX files in
``/usr/share/datasets/fashion-mnist``): ``apt install dataset-fashion-mnist`` makes it offline.
"""

from __future__ import annotations

from pathlib import Path

from evaluators.datasets.idx import IdxSource

FASHION_MNIST_CLASSES = (
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)


class FashionMnistSource(IdxSource):
    """Fashion-MNIST from ``data_dir``, Debian's ``dataset-fashion-mnist``, or the Keras cache."""

    name = "fashion-mnist"
    description = "Fashion-MNIST (Debian's dataset-fashion-mnist, IDX files or the Keras cache)"
    class_names = FASHION_MNIST_CLASSES
    default_dir = Path("/usr/share/datasets/fashion-mnist")
    keras_cache_name = "fashion-mnist"
