"""Datasets by name: one :class:`DatasetSource` per source, a registry, and the ``tf.data`` pipeline.

A source (``digits``, ``lfw-faces``, ``fashion-mnist``, ``mnist``, ``cifar10``, ``cifar100``,
``image-folder`` / ``folder:<path>``) reads its files into uint8 arrays (:class:`RawData`) without
TensorFlow; :func:`load_dataset` splits them (seeded, stratified) and builds the pipelines.
:mod:`evaluators.datasets.person` curates a person / no-person image folder from annotated sets.
Importing this package does not import TensorFlow.
"""

from evaluators.datasets._base import DatasetSource, RawData
from evaluators.datasets._registry import DATASET_NAMES, FOLDER_PREFIX, SOURCES, get_source, resolve
from evaluators.datasets.config import AUGMENTATIONS, DatasetConfig
from evaluators.datasets.pipeline import Dataset, load_dataset, stratified_split

__all__ = [
    "AUGMENTATIONS",
    "DATASET_NAMES",
    "FOLDER_PREFIX",
    "SOURCES",
    "Dataset",
    "DatasetConfig",
    "DatasetSource",
    "RawData",
    "get_source",
    "load_dataset",
    "resolve",
    "stratified_split",
]
