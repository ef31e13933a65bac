"""Every dataset source by name. A new source is one module and one line in ``SOURCES`` below."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from evaluators.datasets._base import DatasetSource
from evaluators.datasets.cifar import Cifar10Source, Cifar100Source
from evaluators.datasets.digits import DigitsSource
from evaluators.datasets.fashion_mnist import FashionMnistSource
from evaluators.datasets.image_folder import ImageFolderSource
from evaluators.datasets.lfw_faces import LfwFacesSource
from evaluators.datasets.mnist import MnistSource
from evaluators.errors import DatasetError

#: ``folder:<path>`` names an image folder directly, without ``data_dir``.
FOLDER_PREFIX = "folder:"

SOURCES: Mapping[str, DatasetSource] = MappingProxyType({
    source.name: source
    for source in (DigitsSource(), LfwFacesSource(), FashionMnistSource(), MnistSource(), Cifar10Source(),
                   Cifar100Source(), ImageFolderSource())
})
DATASET_NAMES: tuple[str, ...] = tuple(SOURCES)


def get_source(name: str) -> DatasetSource:
    """The source registered as ``name`` (``folder:<path>`` is the image-folder source)."""
    if name.startswith(FOLDER_PREFIX):
        return SOURCES[ImageFolderSource.name]
    try:
        return SOURCES[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {name!r}; choose from {list(DATASET_NAMES)} or '{FOLDER_PREFIX}<path>'"
        ) from None


def resolve(name: str, data_dir: str | Path | None) -> tuple[DatasetSource, Path | None]:
    """The source of a dataset name and the folder it reads (``folder:<path>`` carries its own)."""
    if name.startswith(FOLDER_PREFIX):
        return get_source(name), Path(name[len(FOLDER_PREFIX):])
    return get_source(name), Path(data_dir) if data_dir is not None else None


__all__ = ["DATASET_NAMES", "FOLDER_PREFIX", "SOURCES", "get_source", "resolve"]
